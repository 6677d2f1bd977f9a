//! Client messages Ward observes: Query, Parse, Bind, Execute, Close, PasswordMessage.

use super::ProtocolError;
use super::reader::Reader;

pub const QUERY: u8 = b'Q';
pub const PARSE: u8 = b'P';
pub const BIND: u8 = b'B';
pub const EXECUTE: u8 = b'E';
pub const CLOSE: u8 = b'C';
pub const DESCRIBE: u8 = b'D';
pub const SYNC: u8 = b'S';
pub const FLUSH: u8 = b'H';
pub const TERMINATE: u8 = b'X';
pub const PASSWORD: u8 = b'p';
pub const COPY_DATA: u8 = b'd';
pub const COPY_DONE: u8 = b'c';
pub const COPY_FAIL: u8 = b'f';
pub const FUNCTION_CALL: u8 = b'F';

/// The SQL text of a simple Query.
pub fn query(body: &[u8]) -> Result<&[u8], ProtocolError> {
    Reader::new(body, "Query").cstr()
}

#[derive(Debug, PartialEq, Eq)]
pub struct Parse<'a> {
    pub statement: &'a [u8],
    pub query: &'a [u8],
    pub param_types: Vec<u32>,
}

pub fn parse(body: &[u8]) -> Result<Parse<'_>, ProtocolError> {
    let mut r = Reader::new(body, "Parse");
    let statement = r.cstr()?;
    let query = r.cstr()?;
    let n = r.count16()?;
    let mut param_types = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        param_types.push(r.u32()?);
    }
    Ok(Parse {
        statement,
        query,
        param_types,
    })
}

#[derive(Debug, PartialEq, Eq)]
pub struct Bind<'a> {
    pub portal: &'a [u8],
    pub statement: &'a [u8],
    /// Format of each parameter (0 text, 1 binary), already expanded to one per parameter.
    pub formats: Vec<i16>,
    pub values: Vec<Option<&'a [u8]>>,
    /// Result column formats as sent: none (all text), one for all, or one per column.
    pub result_formats: Vec<i16>,
}

pub fn bind(body: &[u8]) -> Result<Bind<'_>, ProtocolError> {
    let mut r = Reader::new(body, "Bind");
    let portal = r.cstr()?;
    let statement = r.cstr()?;
    let nf = r.count16()?;
    let mut codes = Vec::with_capacity(nf.min(1024));
    for _ in 0..nf {
        codes.push(r.i16()?);
    }
    let nv = r.count16()?;
    let mut values = Vec::with_capacity(nv.min(1024));
    for _ in 0..nv {
        values.push(r.value()?);
    }
    let formats = match codes.as_slice() {
        [] => vec![0; nv],
        [one] => vec![*one; nv],
        many if many.len() == nv => many.to_vec(),
        _ => return Err(super::malformed("Bind")),
    };
    let nr = r.count16()?;
    let mut result_formats = Vec::with_capacity(nr.min(1600));
    for _ in 0..nr {
        result_formats.push(r.i16()?);
    }
    Ok(Bind {
        portal,
        statement,
        formats,
        values,
        result_formats,
    })
}

/// The portal named by an Execute.
pub fn execute(body: &[u8]) -> Result<&[u8], ProtocolError> {
    Reader::new(body, "Execute").cstr()
}

/// What a Close closes: `(b'S' | b'P', name)`.
pub fn close(body: &[u8]) -> Result<(u8, &[u8]), ProtocolError> {
    let mut r = Reader::new(body, "Close");
    Ok((r.u8()?, r.cstr()?))
}

/// What a Describe describes: `(b'S' | b'P', name)`.
pub fn describe(body: &[u8]) -> Result<(u8, &[u8]), ProtocolError> {
    let mut r = Reader::new(body, "Describe");
    Ok((r.u8()?, r.cstr()?))
}

/// A fast-path FunctionCall: a function called by OID, outside any statement (libpq's
/// `PQfn`, which its large-object API uses).
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionCall<'a> {
    pub function: u32,
    /// Format of each argument (0 text, 1 binary), already expanded to one per argument.
    pub formats: Vec<i16>,
    pub args: Vec<Option<&'a [u8]>>,
    pub result_format: i16,
}

pub fn function_call(body: &[u8]) -> Result<FunctionCall<'_>, ProtocolError> {
    let mut r = Reader::new(body, "FunctionCall");
    let function = r.u32()?;
    let nf = r.count16()?;
    let mut codes = Vec::with_capacity(nf.min(1024));
    for _ in 0..nf {
        codes.push(r.i16()?);
    }
    let na = r.count16()?;
    let mut args = Vec::with_capacity(na.min(1024));
    for _ in 0..na {
        args.push(r.value()?);
    }
    let formats = match codes.as_slice() {
        [] => vec![0; na],
        [one] => vec![*one; na],
        many if many.len() == na => many.to_vec(),
        _ => return Err(super::malformed("FunctionCall")),
    };
    Ok(FunctionCall {
        function,
        formats,
        args,
        result_format: r.i16()?,
    })
}

/// The password of a PasswordMessage (a cleartext password answers AuthenticationCleartextPassword).
pub fn password(body: &[u8]) -> Result<&[u8], ProtocolError> {
    Reader::new(body, "PasswordMessage").cstr()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index fixtures they built themselves.
mod tests {
    use super::*;

    #[test]
    fn bind_with_one_format_for_all() {
        let mut b = b"p1\0s1\0".to_vec();
        b.extend([0, 1, 0, 1]); // one format code: binary
        b.extend([0, 2]); // two values
        b.extend([0, 0, 0, 4, 0, 0, 0, 42]);
        b.extend([0xff, 0xff, 0xff, 0xff]);
        b.extend([0, 0]); // result formats
        let m = bind(&b).expect("valid");
        assert_eq!(m.portal, b"p1");
        assert_eq!(m.formats, vec![1, 1]);
        assert_eq!(m.values, vec![Some(&[0u8, 0, 0, 42][..]), None]);
        for cut in 0..b.len() - 2 {
            assert!(bind(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn function_call_reads_every_argument_and_refuses_a_cut() {
        let mut b = 954u32.to_be_bytes().to_vec(); // loread
        b.extend([0, 1, 0, 1]); // one format code: binary
        b.extend([0, 2]); // two arguments
        b.extend([0, 0, 0, 4, 0, 0, 0, 0]);
        b.extend([0, 0, 0, 4, 0, 0, 0x20, 0]);
        b.extend([0, 1]); // binary result
        let call = function_call(&b).expect("valid");
        assert_eq!(call.function, 954);
        assert_eq!(call.formats, vec![1, 1]);
        assert_eq!(
            call.args,
            vec![Some(&[0u8, 0, 0, 0][..]), Some(&[0u8, 0, 0x20, 0][..])]
        );
        assert_eq!(call.result_format, 1);
        for cut in 0..b.len() {
            assert!(function_call(&b[..cut]).is_err(), "cut {cut}");
        }
        let mut two_codes_three_args = 1u32.to_be_bytes().to_vec();
        two_codes_three_args.extend([0, 2, 0, 0, 0, 0, 0, 3]);
        two_codes_three_args.extend([0xff; 12]);
        two_codes_three_args.extend([0, 0]);
        assert!(function_call(&two_codes_three_args).is_err());
    }

    #[test]
    fn parse_reads_types() {
        let mut b = b"\0select $1\0".to_vec();
        b.extend([0, 1, 0, 0, 0, 23]);
        let m = parse(&b).expect("valid");
        assert_eq!(m.query, b"select $1");
        assert_eq!(m.param_types, vec![23]);
        assert!(parse(&b[..b.len() - 1]).is_err());
        assert!(parse(&[0, 0, 0xff, 0xff]).is_err());
    }
}
