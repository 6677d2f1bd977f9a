//! The binary protocol of prepared statements: COM_STMT_PREPARE's answer, COM_STMT_EXECUTE's
//! parameters, binary result rows, and how each value reads as text.

use std::borrow::Cow;

use super::reader::{Reader, put_lenenc_str};
use super::{ProtocolError, malformed};

/// `MYSQL_TYPE_*` codes whose binary values Ward reads.
pub mod types {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
}

/// The column flag of unsigned integers.
pub const UNSIGNED_FLAG: u16 = 32;

/// COM_STMT_PREPARE_OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepareOk {
    pub statement: u32,
    pub columns: u16,
    pub params: u16,
}

pub fn prepare_ok(payload: &[u8]) -> Result<PrepareOk, ProtocolError> {
    let mut r = Reader::new(payload, "COM_STMT_PREPARE answer");
    if r.u8()? != 0 {
        return Err(malformed("COM_STMT_PREPARE answer"));
    }
    let statement = r.u32()?;
    let columns = r.u16()?;
    let params = r.u16()?;
    Ok(PrepareOk {
        statement,
        columns,
        params,
    })
}

/// A parameter's type as COM_STMT_EXECUTE gives it: the type code and whether it is unsigned.
pub type ParamType = (u8, bool);

/// COM_STMT_EXECUTE, its command byte removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execute<'a> {
    pub statement: u32,
    /// The cursor type (0: none).
    pub flags: u8,
    /// The parameters' types when the client sent them again (`new_params_bound_flag`).
    pub types: Option<Vec<ParamType>>,
    /// Each parameter's value as encoded (`None` for NULL), read with the types in force.
    pub values: Vec<Option<&'a [u8]>>,
}

/// The statement a COM_STMT_EXECUTE, COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE or COM_STMT_RESET
/// names.
pub fn statement_id(body: &[u8]) -> Result<u32, ProtocolError> {
    Reader::new(body, "statement command").u32()
}

/// Reads COM_STMT_EXECUTE for a statement of `params` parameters, whose types were `bound`
/// by the previous execution (when the client does not send them again). Parameters sent
/// with COM_STMT_SEND_LONG_DATA (in `long`) have no value here.
pub fn execute<'a>(
    body: &'a [u8],
    params: usize,
    bound: &[ParamType],
    long: impl Fn(usize) -> bool,
) -> Result<Execute<'a>, ProtocolError> {
    let what = "COM_STMT_EXECUTE";
    let mut r = Reader::new(body, what);
    let statement = r.u32()?;
    let flags = r.u8()?;
    let _iterations = r.u32()?;
    if params == 0 {
        return Ok(Execute {
            statement,
            flags,
            types: None,
            values: Vec::new(),
        });
    }
    let nulls = r.bytes(params.div_ceil(8))?;
    let types = if r.u8()? == 1 {
        let mut t = Vec::with_capacity(params);
        for _ in 0..params {
            let [ty, flag] = r.array::<2>()?;
            t.push((ty, flag & 0x80 != 0));
        }
        Some(t)
    } else {
        None
    };
    let in_force = types.as_deref().unwrap_or(bound);
    let mut values = Vec::with_capacity(params);
    for i in 0..params {
        let null = nulls.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
        if null || long(i) {
            values.push(None);
            continue;
        }
        let ty = in_force.get(i).map_or(0xfd, |t| t.0);
        values.push(Some(value(&mut r, ty, what)?));
    }
    Ok(Execute {
        statement,
        flags,
        types,
        values,
    })
}

/// COM_STMT_SEND_LONG_DATA: the statement, the parameter and this piece of its value.
pub fn long_data(body: &[u8]) -> Result<(u32, u16, &[u8]), ProtocolError> {
    let mut r = Reader::new(body, "COM_STMT_SEND_LONG_DATA");
    Ok((r.u32()?, r.u16()?, r.rest()))
}

/// Reads one binary value of type `ty`: a string's bytes without their length, or the fixed
/// bytes of a number, date or time (with their length byte for dates and times).
fn value<'a>(r: &mut Reader<'a>, ty: u8, what: &'static str) -> Result<&'a [u8], ProtocolError> {
    let n = match ty {
        types::NULL => 0,
        types::TINY => 1,
        types::SHORT | types::YEAR => 2,
        types::LONG | types::INT24 | types::FLOAT => 4,
        types::LONGLONG | types::DOUBLE => 8,
        types::DATE | types::DATETIME | types::TIMESTAMP | types::TIME => {
            let len = r.peek().ok_or_else(|| malformed(what))?;
            1 + usize::from(len)
        }
        _ => return r.lenenc_str(),
    };
    r.bytes(n)
}

/// The cells of a binary result row for columns of these types (`None` for NULL).
pub fn row<'a>(payload: &'a [u8], columns: &[u8]) -> Result<Vec<Option<&'a [u8]>>, ProtocolError> {
    let what = "binary row";
    let mut r = Reader::new(payload, what);
    if r.u8()? != 0 {
        return Err(malformed(what));
    }
    // The bitmap starts at bit 2.
    let nulls = r.bytes((columns.len() + 9) / 8)?;
    let mut cells = Vec::with_capacity(columns.len());
    for (i, &ty) in columns.iter().enumerate() {
        let bit = i + 2;
        if nulls
            .get(bit / 8)
            .is_some_and(|b| b & (1 << (bit % 8)) != 0)
        {
            cells.push(None);
        } else {
            cells.push(Some(value(&mut r, ty, what)?));
        }
    }
    if !r.is_empty() {
        return Err(malformed(what));
    }
    Ok(cells)
}

/// Whether values of type `ty` are strings (masked as text) rather than numbers, dates or times.
pub fn is_text(ty: u8) -> bool {
    !matches!(
        ty,
        types::NULL
            | types::TINY
            | types::SHORT
            | types::YEAR
            | types::LONG
            | types::INT24
            | types::FLOAT
            | types::LONGLONG
            | types::DOUBLE
            | types::DATE
            | types::DATETIME
            | types::TIMESTAMP
            | types::TIME
    )
}

/// Appends a binary row: `cells` are the values as [`row`] returned them, or replaced (a
/// string masked for the client, `None` for a value withheld).
pub fn encode_row(out: &mut Vec<u8>, columns: &[u8], cells: &[Option<Cow<'_, [u8]>>]) {
    out.push(0);
    let mut nulls = vec![0u8; (columns.len() + 9) / 8];
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_none()
            && let Some(b) = nulls.get_mut((i + 2) / 8)
        {
            *b |= 1 << ((i + 2) % 8);
        }
    }
    out.extend_from_slice(&nulls);
    for (cell, &ty) in cells.iter().zip(columns) {
        match cell {
            Some(v) if is_text(ty) => put_lenenc_str(out, v),
            Some(v) => out.extend_from_slice(v),
            None => {}
        }
    }
}

/// A binary value as text, as the text protocol would show it.
pub fn render(ty: u8, unsigned: bool, v: &[u8]) -> Cow<'_, str> {
    fn le<const N: usize>(v: &[u8]) -> [u8; N] {
        let mut a = [0u8; N];
        for (slot, b) in a.iter_mut().zip(v) {
            *slot = *b;
        }
        a
    }
    let text = match ty {
        types::TINY if unsigned => le::<1>(v)[0].to_string(),
        types::TINY => i8::from_le_bytes(le(v)).to_string(),
        types::SHORT | types::YEAR if unsigned => u16::from_le_bytes(le(v)).to_string(),
        types::SHORT | types::YEAR => i16::from_le_bytes(le(v)).to_string(),
        types::LONG | types::INT24 if unsigned => u32::from_le_bytes(le(v)).to_string(),
        types::LONG | types::INT24 => i32::from_le_bytes(le(v)).to_string(),
        types::LONGLONG if unsigned => u64::from_le_bytes(le(v)).to_string(),
        types::LONGLONG => i64::from_le_bytes(le(v)).to_string(),
        types::FLOAT => f32::from_le_bytes(le(v)).to_string(),
        types::DOUBLE => f64::from_le_bytes(le(v)).to_string(),
        types::NULL => String::new(),
        types::DATE | types::DATETIME | types::TIMESTAMP => datetime(ty, v),
        types::TIME => time(v),
        _ => return String::from_utf8_lossy(v),
    };
    Cow::Owned(text)
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` from a length byte and the fields after it.
fn datetime(ty: u8, v: &[u8]) -> String {
    let mut r = Reader::new(v.get(1..).unwrap_or_default(), "date");
    let year = r.u16().unwrap_or(0);
    let month = r.u8().unwrap_or(0);
    let day = r.u8().unwrap_or(0);
    let mut out = format!("{year:04}-{month:02}-{day:02}");
    if ty != types::DATE {
        let (h, m, s) = (
            r.u8().unwrap_or(0),
            r.u8().unwrap_or(0),
            r.u8().unwrap_or(0),
        );
        out.push_str(&format!(" {h:02}:{m:02}:{s:02}"));
        if let Ok(us) = r.u32() {
            out.push_str(&format!(".{us:06}"));
        }
    }
    out
}

/// `[-]HH:MM:SS[.ffffff]`, the days folded into the hours.
fn time(v: &[u8]) -> String {
    let mut r = Reader::new(v.get(1..).unwrap_or_default(), "time");
    let negative = r.u8().unwrap_or(0) == 1;
    let days = r.u32().unwrap_or(0);
    let (h, m, s) = (
        r.u8().unwrap_or(0),
        r.u8().unwrap_or(0),
        r.u8().unwrap_or(0),
    );
    let hours = u64::from(days) * 24 + u64::from(h);
    let mut out = format!(
        "{}{hours:02}:{m:02}:{s:02}",
        if negative { "-" } else { "" }
    );
    if let Ok(us) = r.u32() {
        out.push_str(&format!(".{us:06}"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Fixed test vectors.
mod tests {
    use super::*;

    #[test]
    fn execute_with_types_strings_ints_and_nulls() {
        // statement 7, no cursor, 1 iteration; 3 params: NULL bitmap 0b010 (the second is
        // NULL), types sent: LONGLONG, VAR_STRING, VAR_STRING.
        let mut body = vec![7, 0, 0, 0, 0, 1, 0, 0, 0, 0b010, 1];
        body.extend_from_slice(&[8, 0, 253, 0, 253, 0]);
        body.extend_from_slice(&42i64.to_le_bytes());
        body.extend_from_slice(b"\x05hello");
        let e = execute(&body, 3, &[], |_| false).expect("parses");
        assert_eq!(e.statement, 7);
        assert_eq!(e.values.len(), 3);
        assert_eq!(e.values[1], None);
        assert_eq!(e.values[2], Some(&b"hello"[..]));
        let types = e.types.clone().expect("types");
        assert_eq!(
            render(types[0].0, types[0].1, e.values[0].unwrap_or_default()),
            "42"
        );
        // Cut anywhere, an error, never a panic.
        for cut in 0..body.len() {
            assert!(execute(body.get(..cut).unwrap_or_default(), 3, &[], |_| false).is_err());
        }
        // Without types again, the previous ones hold.
        let mut again = vec![7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        again.extend_from_slice(&1i64.to_le_bytes());
        again.extend_from_slice(b"\x01a\x01b");
        let e = execute(&again, 3, &types, |_| false).expect("parses");
        assert_eq!(
            e.values,
            vec![
                Some(&1i64.to_le_bytes()[..]),
                Some(&b"a"[..]),
                Some(&b"b"[..])
            ]
        );
    }

    #[test]
    fn binary_rows_round_trip() {
        let cols = [types::LONG, 253, types::DATETIME, 253];
        // Column 3 (bit 5: the bitmap starts at bit 2) is NULL.
        let mut payload = vec![0, 1 << 5];
        payload.extend_from_slice(&5i32.to_le_bytes());
        payload.extend_from_slice(b"\x04card");
        payload.extend_from_slice(&[7, 0xe8, 0x07, 12, 8, 13, 5, 9]);
        let cells = row(&payload, &cols).expect("row");
        assert_eq!(cells[3], None);
        assert_eq!(
            render(cols[2], false, cells[2].unwrap_or_default()),
            "2024-12-08 13:05:09"
        );
        let owned: Vec<Option<Cow<'_, [u8]>>> =
            cells.iter().map(|c| c.map(Cow::Borrowed)).collect();
        let mut out = Vec::new();
        encode_row(&mut out, &cols, &owned);
        assert_eq!(out, payload);
        for cut in 0..payload.len() {
            assert!(row(payload.get(..cut).unwrap_or_default(), &cols).is_err());
        }
    }

    #[test]
    fn times_and_unsigned() {
        assert_eq!(
            render(types::TIME, false, &[8, 1, 1, 0, 0, 0, 2, 3, 4]),
            "-26:03:04"
        );
        assert_eq!(render(types::TINY, true, &[255]), "255");
        assert_eq!(render(types::TINY, false, &[255]), "-1");
        assert_eq!(render(types::DATE, false, &[0]), "0000-00-00");
    }
}
