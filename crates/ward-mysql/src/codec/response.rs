//! The server's answers Ward reads: OK, ERR and EOF packets, result-set column definitions and
//! text-protocol rows; and the OK and ERR packets Ward sends itself.

use super::reader::{Reader, put_lenenc};
use super::{ProtocolError, caps, malformed, status};

/// An OK packet (or, with `CLIENT_DEPRECATE_EOF`, the OK that ends a result set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ok<'a> {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    /// Human-readable information (`Rows matched: 1  Changed: 1  Warnings: 0`).
    pub info: &'a [u8],
}

/// Whether `payload` is an OK packet (header 0x00), or the OK-shaped end of a result set
/// (header 0xfe in a packet shorter than 2^24 - 1).
pub fn is_ok(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(0x00)) && payload.len() >= 7
}

/// Whether `payload` is an EOF packet, or with `CLIENT_DEPRECATE_EOF` the OK that ends rows.
pub fn is_eof(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(0xfe)) && payload.len() < 0xff_ffff
}

pub fn is_err(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(0xff))
}

/// Reads an OK packet, or the OK-shaped packet (0xfe) ending a result set.
pub fn ok(payload: &[u8], capabilities: u32) -> Result<Ok<'_>, ProtocolError> {
    let what = "OK";
    let mut r = Reader::new(payload, what);
    if !matches!(r.u8()?, 0x00 | 0xfe) {
        return Err(malformed(what));
    }
    let affected_rows = r.int()?;
    let last_insert_id = r.int()?;
    let status = r.u16()?;
    let warnings = r.u16()?;
    let info = if capabilities & caps::SESSION_TRACK != 0 {
        if r.is_empty() {
            &[][..]
        } else {
            let info = r.lenenc_str()?;
            // What follows (session state changes) is passed on, not read.
            if status & status::SESSION_STATE_CHANGED == 0 && !r.is_empty() {
                return Err(malformed(what));
            }
            info
        }
    } else {
        r.rest()
    };
    Ok(Ok {
        affected_rows,
        last_insert_id,
        status,
        warnings,
        info,
    })
}

/// The status flags of an EOF packet (the old one, 5 bytes) or an OK-shaped end of rows.
pub fn end_status(payload: &[u8], capabilities: u32) -> Result<(u16, u16), ProtocolError> {
    if capabilities & caps::DEPRECATE_EOF != 0 {
        let ok = ok(payload, capabilities)?;
        return Ok((ok.status, ok.warnings));
    }
    let mut r = Reader::new(payload, "EOF");
    r.u8()?;
    let warnings = r.u16()?;
    let status = r.u16()?;
    Ok((status, warnings))
}

/// An ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Err<'a> {
    pub code: u16,
    /// Five characters; `HY000` when the server sent none.
    pub sqlstate: &'a [u8],
    pub message: &'a [u8],
}

pub fn err(payload: &[u8]) -> Result<Err<'_>, ProtocolError> {
    let what = "ERR";
    let mut r = Reader::new(payload, what);
    if r.u8()? != 0xff {
        return Err(malformed(what));
    }
    let code = r.u16()?;
    let sqlstate = if r.peek() == Some(b'#') {
        r.u8()?;
        r.bytes(5)?
    } else {
        b"HY000"
    };
    Ok(Err {
        code,
        sqlstate,
        message: r.rest(),
    })
}

/// Appends an ERR packet's payload (`sqlstate` of five characters).
pub fn encode_err(out: &mut Vec<u8>, code: u16, sqlstate: &str, message: &str) {
    out.push(0xff);
    out.extend_from_slice(&code.to_le_bytes());
    out.push(b'#');
    let mut state = [b'H', b'Y', b'0', b'0', b'0'];
    for (slot, b) in state.iter_mut().zip(sqlstate.bytes()) {
        *slot = b;
    }
    out.extend_from_slice(&state);
    out.extend_from_slice(message.as_bytes());
}

/// Appends an OK packet's payload.
pub fn encode_ok(out: &mut Vec<u8>, affected_rows: u64, status: u16, warnings: u16) {
    out.push(0x00);
    put_lenenc(out, affected_rows);
    put_lenenc(out, 0);
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&warnings.to_le_bytes());
}

/// A result set's column (ColumnDefinition41), with what Ward records and masks by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Column {
    pub schema: String,
    /// The table as the query named it (an alias), and the table itself.
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub charset: u16,
    pub length: u32,
    /// `MYSQL_TYPE_*`.
    pub type_code: u8,
    pub flags: u16,
    pub decimals: u8,
}

/// The column flag of a binary string (BLOB, BINARY, VARBINARY).
pub const BINARY_FLAG: u16 = 128;
/// The character set number of binary data.
pub const BINARY_CHARSET: u16 = 63;

pub fn column(payload: &[u8]) -> Result<Column, ProtocolError> {
    let what = "column definition";
    let mut r = Reader::new(payload, what);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let _catalog = r.lenenc_str()?;
    let schema = text(r.lenenc_str()?);
    let table = text(r.lenenc_str()?);
    let org_table = text(r.lenenc_str()?);
    let name = text(r.lenenc_str()?);
    let org_name = text(r.lenenc_str()?);
    let fixed = r.int()?;
    if fixed < 10 {
        return Err(malformed(what));
    }
    let charset = r.u16()?;
    let length = r.u32()?;
    let type_code = r.u8()?;
    let flags = r.u16()?;
    let decimals = r.u8()?;
    Ok(Column {
        schema,
        table,
        org_table,
        name,
        org_name,
        charset,
        length,
        type_code,
        flags,
        decimals,
    })
}

/// The number of columns that opens a result set.
pub fn column_count(payload: &[u8]) -> Result<u64, ProtocolError> {
    let mut r = Reader::new(payload, "column count");
    let n = r.int()?;
    if n == 0 || !r.is_empty() {
        return Err(malformed("column count"));
    }
    Ok(n)
}

/// The cells of a text-protocol row (`None` for NULL).
pub fn text_row(payload: &[u8]) -> Result<Vec<Option<&[u8]>>, ProtocolError> {
    let mut r = Reader::new(payload, "row");
    let mut cells = Vec::new();
    while !r.is_empty() {
        cells.push(r.lenenc_bytes()?);
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_and_err_round_trip() {
        let mut out = Vec::new();
        encode_ok(&mut out, 3, status::AUTOCOMMIT, 1);
        let got = ok(&out, caps::WARD).expect("ok");
        assert_eq!((got.affected_rows, got.status, got.warnings), (3, 2, 1));
        assert!(is_ok(&out));
        let mut out = Vec::new();
        encode_err(&mut out, 1227, "42000", "denied");
        let e = err(&out).expect("err");
        assert_eq!(
            (e.code, e.sqlstate, e.message),
            (1227, &b"42000"[..], &b"denied"[..])
        );
        for cut in 0..out.len() {
            let _ = err(out.get(..cut).unwrap_or_default());
        }
    }

    #[test]
    fn ok_with_session_state() {
        // affected 0, insert id 0, status SESSION_STATE_CHANGED|AUTOCOMMIT, no warnings, no
        // info, then a schema change to `app`.
        let wire = b"\x00\x00\x00\x02\x40\x00\x00\x00\x06\x01\x04\x03app";
        let got = ok(wire, caps::WARD).expect("ok");
        assert_eq!(got.status, 0x4002);
        assert_eq!(got.info, b"");
    }

    #[test]
    fn column_and_rows() {
        let mut def = Vec::new();
        for s in ["def", "app", "c", "customers", "card", "card"] {
            crate::codec::reader::put_lenenc_str(&mut def, s.as_bytes());
        }
        def.push(0x0c);
        def.extend_from_slice(&[45, 0, 0, 1, 0, 0, 253, 0, 0, 0, 0, 0]);
        let col = column(&def).expect("column");
        assert_eq!(
            (col.name.as_str(), col.org_table.as_str()),
            ("card", "customers")
        );
        assert_eq!(col.type_code, 253);
        // Cut anywhere before the two filler bytes Ward does not read, it is an error.
        for cut in 0..def.len() - 2 {
            assert!(column(def.get(..cut).unwrap_or_default()).is_err());
        }
        let row = b"\x014\xfb\x03abc";
        assert_eq!(
            text_row(row),
            Ok(vec![Some(&b"4"[..]), None, Some(&b"abc"[..])])
        );
        assert!(text_row(b"\x05ab").is_err());
    }
}
