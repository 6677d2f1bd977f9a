//! The messages Ward writes itself: errors, authentication, startup, cancel, and the
//! hand-over after login (ParameterStatus, BackendKeyData, ReadyForQuery).

/// Appends a message: type byte, length, body written by `f`.
pub fn message(out: &mut Vec<u8>, tag: u8, f: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    f(out);
    patch_len(out, at);
}

fn patch_len(out: &mut [u8], at: usize) {
    let len = i32::try_from(out.len() - at).unwrap_or(i32::MAX);
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
}

fn cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

/// A StartupMessage for protocol 3.0.
pub fn startup(out: &mut Vec<u8>, params: &[(&str, &str)]) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&super::startup::PROTOCOL_3_0.to_be_bytes());
    for (k, v) in params {
        cstr(out, k.as_bytes());
        cstr(out, v.as_bytes());
    }
    out.push(0);
    patch_len(out, at);
}

pub fn ssl_request(out: &mut Vec<u8>) {
    out.extend_from_slice(&8i32.to_be_bytes());
    out.extend_from_slice(&super::startup::SSL_REQUEST.to_be_bytes());
}

pub fn cancel_request(out: &mut Vec<u8>, pid: i32, secret: i32) {
    out.extend_from_slice(&16i32.to_be_bytes());
    out.extend_from_slice(&super::startup::CANCEL_REQUEST.to_be_bytes());
    out.extend_from_slice(&pid.to_be_bytes());
    out.extend_from_slice(&secret.to_be_bytes());
}

/// An ErrorResponse with severity, SQLSTATE and message.
pub fn error_response(out: &mut Vec<u8>, severity: &str, code: &str, text: &str) {
    message(out, b'E', |b| {
        b.push(b'S');
        cstr(b, severity.as_bytes());
        b.push(b'V');
        cstr(b, severity.as_bytes());
        b.push(b'C');
        cstr(b, code.as_bytes());
        b.push(b'M');
        cstr(b, text.as_bytes());
        b.push(0);
    });
}

/// An ErrorResponse or NoticeResponse (`tag`) made of `(code, value)` fields.
///
/// INVARIANT: no value holds a NUL byte; it would end the field early and shift the ones after it.
/// Values parsed from a message never do, and masking only adds printable ASCII.
pub fn fields_message<V: AsRef<[u8]>>(out: &mut Vec<u8>, tag: u8, fields: &[(u8, V)]) {
    message(out, tag, |b| {
        for (code, value) in fields {
            b.push(*code);
            cstr(b, value.as_ref());
        }
        b.push(0);
    });
}

/// A NotificationResponse: a NOTIFY on `channel` from backend `pid`.
pub fn notification(out: &mut Vec<u8>, pid: i32, channel: &[u8], payload: &[u8]) {
    message(out, b'A', |b| {
        b.extend_from_slice(&pid.to_be_bytes());
        cstr(b, channel);
        cstr(b, payload);
    });
}

pub fn auth_cleartext(out: &mut Vec<u8>) {
    message(out, b'R', |b| b.extend_from_slice(&3i32.to_be_bytes()));
}

pub fn auth_ok(out: &mut Vec<u8>) {
    message(out, b'R', |b| b.extend_from_slice(&0i32.to_be_bytes()));
}

pub fn backend_key_data(out: &mut Vec<u8>, pid: i32, secret: i32) {
    message(out, b'K', |b| {
        b.extend_from_slice(&pid.to_be_bytes());
        b.extend_from_slice(&secret.to_be_bytes());
    });
}

pub fn ready_for_query(out: &mut Vec<u8>, status: u8) {
    message(out, b'Z', |b| b.push(status));
}

/// Tells a client asking for protocol 3.`minor` that Ward speaks 3.0 and ignores `options`.
pub fn negotiate_protocol_version(out: &mut Vec<u8>, options: &[&str]) {
    message(out, b'v', |b| {
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&i32::try_from(options.len()).unwrap_or(0).to_be_bytes());
        for o in options {
            cstr(b, o.as_bytes());
        }
    });
}

pub fn password(out: &mut Vec<u8>, password: &[u8]) {
    message(out, b'p', |b| cstr(b, password));
}

pub fn sasl_initial_response(out: &mut Vec<u8>, mechanism: &str, data: &[u8]) {
    message(out, b'p', |b| {
        cstr(b, mechanism.as_bytes());
        b.extend_from_slice(&i32::try_from(data.len()).unwrap_or(0).to_be_bytes());
        b.extend_from_slice(data);
    });
}

pub fn sasl_response(out: &mut Vec<u8>, data: &[u8]) {
    message(out, b'p', |b| b.extend_from_slice(data));
}

pub fn terminate(out: &mut Vec<u8>) {
    message(out, b'X', |_| {});
}
