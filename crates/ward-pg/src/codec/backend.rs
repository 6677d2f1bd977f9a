//! Server messages Ward observes: authentication requests, RowDescription, DataRow,
//! CommandComplete, ErrorResponse/NoticeResponse, BackendKeyData, NotificationResponse.

use std::sync::Arc;

use super::ProtocolError;
use super::reader::Reader;

pub const AUTHENTICATION: u8 = b'R';
pub const PARAMETER_STATUS: u8 = b'S';
pub const BACKEND_KEY_DATA: u8 = b'K';
pub const READY_FOR_QUERY: u8 = b'Z';
pub const ROW_DESCRIPTION: u8 = b'T';
pub const PARAMETER_DESCRIPTION: u8 = b't';
pub const NO_DATA: u8 = b'n';
pub const DATA_ROW: u8 = b'D';
pub const COMMAND_COMPLETE: u8 = b'C';
pub const EMPTY_QUERY: u8 = b'I';
pub const PORTAL_SUSPENDED: u8 = b's';
pub const ERROR_RESPONSE: u8 = b'E';
pub const NOTICE_RESPONSE: u8 = b'N';
pub const NOTIFICATION: u8 = b'A';
pub const COPY_IN_RESPONSE: u8 = b'G';
pub const COPY_OUT_RESPONSE: u8 = b'H';
pub const COPY_BOTH_RESPONSE: u8 = b'W';
pub const COPY_DATA: u8 = b'd';
pub const COPY_DONE: u8 = b'c';
pub const FUNCTION_CALL_RESPONSE: u8 = b'V';

#[derive(Debug, PartialEq, Eq)]
pub enum Authentication<'a> {
    Ok,
    CleartextPassword,
    Md5Password { salt: [u8; 4] },
    Sasl { mechanisms: Vec<&'a str> },
    SaslContinue(&'a [u8]),
    SaslFinal(&'a [u8]),
    Other(i32),
}

pub fn authentication(body: &[u8]) -> Result<Authentication<'_>, ProtocolError> {
    let mut r = Reader::new(body, "Authentication");
    Ok(match r.i32()? {
        0 => Authentication::Ok,
        3 => Authentication::CleartextPassword,
        5 => Authentication::Md5Password { salt: r.array()? },
        10 => {
            let mut mechanisms = Vec::new();
            loop {
                let m = r.str()?;
                if m.is_empty() {
                    break;
                }
                mechanisms.push(m);
            }
            Authentication::Sasl { mechanisms }
        }
        11 => Authentication::SaslContinue(r.rest()),
        12 => Authentication::SaslFinal(r.rest()),
        other => Authentication::Other(other),
    })
}

/// `(pid, secret)` of a BackendKeyData.
pub fn backend_key_data(body: &[u8]) -> Result<(i32, i32), ProtocolError> {
    let mut r = Reader::new(body, "BackendKeyData");
    Ok((r.i32()?, r.i32()?))
}

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The table the column comes from (0 when it is computed), and its attribute number there.
    pub table_oid: u32,
    pub attnum: i16,
    pub type_oid: u32,
    /// 0 text, 1 binary.
    pub format: i16,
    /// The table and column named in the catalog, once looked up (`crate::catalog`).
    pub source: Option<Source>,
}

/// Which table column a result column is: `(public.users, password)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub table: Arc<str>,
    pub column: Arc<str>,
}

impl Column {
    /// The column as masking rules see it: its label and, when known, its source.
    pub fn masking_ref(&self) -> ward_mask::ColumnRef<'_> {
        match &self.source {
            Some(s) => ward_mask::ColumnRef::of_table(&self.name, &s.table, &s.column),
            None => ward_mask::ColumnRef::new(None, &self.name),
        }
    }
}

pub fn row_description(body: &[u8]) -> Result<Vec<Column>, ProtocolError> {
    let mut r = Reader::new(body, "RowDescription");
    let n = r.count16()?;
    let mut cols = Vec::with_capacity(n.min(1600));
    for _ in 0..n {
        let name = String::from_utf8_lossy(r.cstr()?).into_owned();
        let table_oid = r.u32()?;
        let attnum = r.i16()?;
        let type_oid = r.u32()?;
        let _typlen = r.i16()?;
        let _typmod = r.i32()?;
        let format = r.i16()?;
        cols.push(Column {
            name,
            table_oid,
            attnum,
            type_oid,
            format,
            source: None,
        });
    }
    Ok(cols)
}

/// The parameter type OIDs of a ParameterDescription.
pub fn parameter_description(body: &[u8]) -> Result<Vec<u32>, ProtocolError> {
    let mut r = Reader::new(body, "ParameterDescription");
    let n = r.count16()?;
    let mut types = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        types.push(r.u32()?);
    }
    Ok(types)
}

/// The cells of a DataRow, without copying them.
pub fn data_row(body: &[u8]) -> Result<Vec<Option<&[u8]>>, ProtocolError> {
    let mut r = Reader::new(body, "DataRow");
    let n = r.count16()?;
    let mut cells = Vec::with_capacity(n.min(1600));
    for _ in 0..n {
        cells.push(r.value()?);
    }
    Ok(cells)
}

/// The command tag of a CommandComplete (`SELECT 3`, `INSERT 0 1`, …).
pub fn command_complete(body: &[u8]) -> Result<&[u8], ProtocolError> {
    Reader::new(body, "CommandComplete").cstr()
}

/// The fields of an ErrorResponse or NoticeResponse, as `(code, value)` pairs.
pub fn error_fields(body: &[u8]) -> Result<Vec<(u8, &[u8])>, ProtocolError> {
    let mut r = Reader::new(body, "ErrorResponse");
    let mut fields = Vec::new();
    loop {
        let code = r.u8()?;
        if code == 0 {
            return Ok(fields);
        }
        fields.push((code, r.cstr()?));
    }
}

/// `(pid, channel, payload)` of a NotificationResponse.
pub fn notification(body: &[u8]) -> Result<(i32, &[u8], &[u8]), ProtocolError> {
    let mut r = Reader::new(body, "NotificationResponse");
    Ok((r.i32()?, r.cstr()?, r.cstr()?))
}

/// The result of a FunctionCallResponse (`None`: SQL NULL).
pub fn function_call_response(body: &[u8]) -> Result<Option<&[u8]>, ProtocolError> {
    Reader::new(body, "FunctionCallResponse").value()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index fixtures they built themselves.
mod tests {
    use super::*;

    #[test]
    fn function_call_response_is_a_value_or_null() {
        assert_eq!(
            function_call_response(&[0, 0, 0, 2, b'h', b'i']),
            Ok(Some(&b"hi"[..]))
        );
        assert_eq!(function_call_response(&[0xff, 0xff, 0xff, 0xff]), Ok(None));
        assert!(function_call_response(&[0, 0, 0, 3, b'h']).is_err());
    }
    use crate::codec::encode;

    #[test]
    fn error_fields_round_trip_and_cuts() {
        let mut buf = Vec::new();
        encode::error_response(&mut buf, "FATAL", "28P01", "password authentication failed");
        let body = &buf[5..];
        let f = error_fields(body).expect("valid");
        assert!(f.contains(&(b'C', &b"28P01"[..])));
        for cut in 0..body.len() {
            assert!(error_fields(&body[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn built_fields_and_notifications_parse_back_with_exact_lengths() {
        let mut buf = Vec::new();
        encode::fields_message(
            &mut buf,
            NOTICE_RESPONSE,
            &[(b'S', &b"NOTICE"[..]), (b'M', b"card [REDACTED:card]")],
        );
        assert_eq!(buf[0], NOTICE_RESPONSE);
        assert_eq!(
            i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize,
            buf.len() - 1
        );
        assert_eq!(
            error_fields(&buf[5..]).expect("valid"),
            vec![(b'S', &b"NOTICE"[..]), (b'M', &b"card [REDACTED:card]"[..])]
        );

        let mut buf = Vec::new();
        encode::notification(&mut buf, -7, b"ch", b"");
        assert_eq!(buf, b"A\0\0\0\x0c\xff\xff\xff\xf9ch\0\0");
        assert_eq!(
            notification(&buf[5..]).expect("valid"),
            (-7, &b"ch"[..], &b""[..])
        );
    }

    #[test]
    fn data_row_cells() {
        let body = [0, 2, 0, 0, 0, 1, b'7', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(data_row(&body).expect("valid"), vec![Some(&b"7"[..]), None]);
        for cut in 0..body.len() {
            assert!(data_row(&body[..cut]).is_err(), "cut {cut}");
        }
        // A cell claiming more bytes than the message holds.
        assert!(data_row(&[0, 1, 0x7f, 0xff, 0xff, 0xff, 1]).is_err());
    }

    #[test]
    fn sasl_mechanisms() {
        let body = b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0";
        assert_eq!(
            authentication(body).expect("valid"),
            Authentication::Sasl {
                mechanisms: vec!["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
            }
        );
        assert!(authentication(&body[..10]).is_err());
    }
}
