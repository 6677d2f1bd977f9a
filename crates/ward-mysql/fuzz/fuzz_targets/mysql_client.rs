//! Fuzz target: what a client sends, on arbitrary bytes — its first packet (SSLRequest or
//! HandshakeResponse41), the framing of its stream at arbitrary read boundaries, the login as
//! the gateway reads it (greeting answered, auth switch answered), then each command as the
//! relay reads it (prepared statements' executions with their parameters included), and the
//! records the relay writes for it.
//!
//! The input is a control byte, then the client's byte stream. The control byte's high bit
//! selects a small packet limit (`ward_mysql_fuzz::limit`), its low four bits the number of
//! parameters of the statements COM_STMT_EXECUTE runs, and bit 6 which of them were sent as
//! long data.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ward_mysql::codec::binary::{self, ParamType};
use ward_mysql::codec::handshake::{self, ClientHello, Login};
use ward_mysql::codec::{ProtocolError, caps, command, packet};
use ward_mysql::record::{Denied, Param, Query};

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let max = ward_mysql_fuzz::limit(control);
    // The raw bytes as a login packet's payload, and as a command's.
    hello(stream);
    command(stream, &mut Prepared::new(control));
    // The raw bytes as a whole connection: login first, then commands.
    if let Some(rest) = login(stream) {
        commands(rest, max, &mut Prepared::new(control));
    }
    // And as the command phase alone.
    commands(stream, max, &mut Prepared::new(control));
});

/// The prepared statement every COM_STMT_EXECUTE runs, as the relay keeps it
/// (`prepared::Statements`): its number of parameters, and their types as last bound.
struct Prepared {
    params: usize,
    types: Vec<ParamType>,
    long: bool,
}

impl Prepared {
    fn new(control: u8) -> Self {
        Self {
            params: usize::from(control & 0x0f),
            types: Vec::new(),
            long: control & 0x40 != 0,
        }
    }
}

/// The packet at the start of `stream` as the login reads it: over the login limit it is
/// refused, with another sequence number than `seq` the login ends. Its payload and length.
fn heard(stream: &[u8], seq: u8) -> Option<(Vec<u8>, usize)> {
    match packet::next(stream, ward_mysql_fuzz::MAX_LOGIN_PACKET) {
        Ok(packet::Next::Packet { seq: got, len, .. }) if got == seq => {
            let wire = stream.get(..len).unwrap_or_default();
            Some((packet::payload(wire), len))
        }
        _ => None,
    }
}

/// The login as the gateway reads it over plain TCP: the HandshakeResponse41 (packet 1, after
/// the greeting), then the answer to the switch to `mysql_clear_password` (packet 3). What the
/// client sent after it, for the relay.
fn login(stream: &[u8]) -> Option<&[u8]> {
    let (payload, len) = heard(stream, 1)?;
    // An SSLRequest is followed by TLS, which this target does not reach.
    let ClientHello::Login(_) = handshake::client_hello(&payload).ok()? else {
        return None;
    };
    let stream = stream.get(len..).unwrap_or_default();
    let (answer, len) = heard(stream, 3)?;
    let password = answer.strip_suffix(&[0]).unwrap_or(&answer);
    let _ = String::from_utf8(password.to_vec());
    Some(stream.get(len..).unwrap_or_default())
}

/// The client's first packet, with what must hold of what it parses to.
fn hello(payload: &[u8]) {
    let got = handshake::client_hello(payload);
    let low = match payload {
        [a, b, ..] => u32::from(u16::from_le_bytes([*a, *b])),
        _ => {
            assert!(got.is_err());
            return;
        }
    };
    if low & caps::PROTOCOL_41 == 0 {
        assert_eq!(got, Err(ProtocolError::Unsupported));
        return;
    }
    match got {
        Ok(ClientHello::Ssl { capabilities }) => {
            assert_eq!(payload.len(), 32, "an SSLRequest is 32 bytes");
            assert!(capabilities & caps::SSL != 0);
        }
        Ok(ClientHello::Login(l)) => {
            assert!(payload.len() > 32, "a login has a user name after 32 bytes");
            assert!(!l.user.contains(&0));
            assert!(l.database.is_none() || l.capabilities & caps::CONNECT_WITH_DB != 0);
            assert!(l.auth_plugin.is_none() || l.capabilities & caps::PLUGIN_AUTH != 0);
            login_round_trip(&l);
        }
        Err(e) => assert!(matches!(e, ProtocolError::Malformed { .. }), "{e:?}"),
    }
}

/// `Login::encode` then `client_hello` gives the same login back. The encoder writes the auth
/// response length-prefixed (`SECURE_CONNECTION`) or length-encoded, never NUL-terminated as
/// pre-4.1 clients did, and writes an absent database or plugin as an empty one.
fn login_round_trip(l: &Login) {
    if l.capabilities & (caps::SECURE_CONNECTION | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA) == 0 {
        return;
    }
    let mut out = Vec::new();
    l.encode(&mut out);
    let mut want = l.clone();
    if want.capabilities & caps::CONNECT_WITH_DB != 0 {
        want.database.get_or_insert_default();
    }
    if want.capabilities & caps::PLUGIN_AUTH != 0 {
        want.auth_plugin.get_or_insert_default();
    }
    assert_eq!(
        handshake::client_hello(&out),
        Ok(ClientHello::Login(Box::new(want)))
    );
}

/// The command phase as the relay reads it: packets of at most `max` bytes, each numbered 0,
/// with a command byte; it ends at COM_QUIT or at the first packet it refuses.
fn commands(stream: &[u8], max: usize, prepared: &mut Prepared) {
    let (frames, _) = ward_mysql_fuzz::frames(stream, max);
    for frame in frames {
        let p = frame.packet(stream);
        if p.seq != 0 {
            return;
        }
        let payload = p.payload();
        assert_eq!(
            p.next_seq(),
            p.packets,
            "the answer is numbered after the command"
        );
        let Some(&code) = payload.first() else {
            return;
        };
        if code == command::QUIT {
            return;
        }
        command(&payload, prepared);
    }
}

/// One command's payload, and the records the relay writes for it.
fn command(payload: &[u8], prepared: &mut Prepared) {
    let Some((&code, body)) = payload.split_first() else {
        return;
    };
    let name = command::name(code);
    assert!(name.starts_with("COM_") || name == "an unknown command");
    match code {
        command::QUERY => ward_mysql_fuzz::record(&Query::text(Bytes::copy_from_slice(body))),
        command::INIT_DB => {
            let mut text = b"USE `".to_vec();
            text.extend_from_slice(body);
            text.push(b'`');
            ward_mysql_fuzz::record(&Query::text(text.into()));
        }
        command::STMT_EXECUTE => execute(body, prepared),
        command::STMT_SEND_LONG_DATA => {
            if let Ok((statement, _, data)) = binary::long_data(body) {
                assert_eq!(binary::statement_id(body), Ok(statement));
                assert_eq!(data.len() + 6, body.len());
            }
        }
        command::STMT_CLOSE | command::STMT_RESET => {
            assert_eq!(binary::statement_id(body).is_ok(), body.len() >= 4);
        }
        _ => ward_mysql_fuzz::record(&Denied {
            rule: None,
            reason: "command",
            statement: None,
            message: format!("Ward does not relay {name}"),
            protocol: "command",
            command: Some(command::describe(code)),
        }),
    }
}

/// COM_STMT_EXECUTE as the relay reads it: its parameters with the types sent or bound before,
/// rendered as text, and the `db.query` it records.
fn execute(body: &[u8], prepared: &mut Prepared) {
    let long = prepared.long;
    let Ok(e) = binary::execute(body, prepared.params, &prepared.types, |i| {
        long && i % 3 == 1
    }) else {
        return;
    };
    assert_eq!(binary::statement_id(body), Ok(e.statement));
    assert_eq!(e.values.len(), prepared.params);
    if let Some(types) = &e.types {
        assert_eq!(types.len(), prepared.params);
        prepared.types.clone_from(types);
    }
    let params = e
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (ty, unsigned) = prepared.types.get(i).copied().unwrap_or((0xfd, false));
            v.map(|v| Param {
                text: binary::render(ty, unsigned, v).into_owned(),
                numeric: !binary::is_text(ty),
                truncated: false,
            })
        })
        .collect();
    ward_mysql_fuzz::record(&Query {
        text: Bytes::from_static(b"SELECT ?"),
        statement: Some(e.statement),
        params: Some(params),
    });
}
