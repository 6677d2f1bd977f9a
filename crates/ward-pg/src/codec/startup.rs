//! The first packet of a connection: SSLRequest, GSSENCRequest, CancelRequest or StartupMessage.
//! These have no type byte: a big-endian `i32` length, then a 32-bit code.

use super::reader::Reader;
use super::{ProtocolError, malformed};

pub const SSL_REQUEST: u32 = 80_877_103;
pub const GSSENC_REQUEST: u32 = 80_877_104;
pub const CANCEL_REQUEST: u32 = 80_877_102;
/// Protocol 3.0.
pub const PROTOCOL_3_0: u32 = 196_608;
/// PostgreSQL refuses startup packets longer than this; so does Ward.
pub const MAX_STARTUP_LEN: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Startup {
    SslRequest,
    GssEncRequest,
    Cancel {
        pid: i32,
        secret: i32,
    },
    /// Protocol 3.x with its parameters in order. `minor` above 0 is negotiated down to 3.0.
    Startup {
        minor: u16,
        params: Vec<(String, String)>,
    },
}

impl Startup {
    pub fn param(&self, name: &str) -> Option<&str> {
        match self {
            Startup::Startup { params, .. } => params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

/// Parses a startup packet at the start of `buf`: `Ok(None)` until it is complete, then the
/// packet and its length.
pub fn parse(buf: &[u8]) -> Result<Option<(Startup, usize)>, ProtocolError> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let declared = i32::from_be_bytes(head.try_into().map_err(|_| malformed("startup"))?);
    if declared < 8 {
        return Err(ProtocolError::TooShort {
            len: i64::from(declared),
            min: 8,
        });
    }
    let len = usize::try_from(declared).map_err(|_| malformed("startup"))?;
    if len > MAX_STARTUP_LEN {
        return Err(ProtocolError::TooLong {
            len: i64::from(declared),
            max: MAX_STARTUP_LEN,
        });
    }
    let Some(packet) = buf.get(4..len) else {
        return Ok(None);
    };
    let mut r = Reader::new(packet, "startup");
    let code = r.u32()?;
    let msg = match code {
        SSL_REQUEST if r.is_empty() => Startup::SslRequest,
        GSSENC_REQUEST if r.is_empty() => Startup::GssEncRequest,
        CANCEL_REQUEST => {
            let pid = r.i32()?;
            let secret = r.i32()?;
            Startup::Cancel { pid, secret }
        }
        _ if code >> 16 == 3 => {
            let mut params = Vec::new();
            loop {
                let key = r.str()?;
                if key.is_empty() {
                    break;
                }
                params.push((key.to_owned(), r.str()?.to_owned()));
            }
            if !r.is_empty() {
                return Err(malformed("startup"));
            }
            Startup::Startup {
                minor: u16::try_from(code & 0xffff).unwrap_or(0),
                params,
            }
        }
        _ => {
            let major = u16::try_from(code >> 16).unwrap_or(u16::MAX);
            let minor = u16::try_from(code & 0xffff).unwrap_or(0);
            return Err(ProtocolError::UnsupportedVersion { major, minor });
        }
    };
    Ok(Some((msg, len)))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index fixtures they built themselves.
mod tests {
    use super::*;
    use crate::codec::encode;

    #[test]
    fn startup_round_trip_at_every_cut() {
        let mut buf = Vec::new();
        encode::startup(&mut buf, &[("user", "alice"), ("database", "shop")]);
        for cut in 0..buf.len() {
            assert_eq!(parse(&buf[..cut]), Ok(None), "cut {cut}");
        }
        let (msg, len) = parse(&buf).expect("valid").expect("complete");
        assert_eq!(len, buf.len());
        assert_eq!(msg.param("user"), Some("alice"));
        assert_eq!(msg.param("database"), Some("shop"));
    }

    #[test]
    fn special_requests() {
        let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        assert_eq!(parse(&ssl), Ok(Some((Startup::SslRequest, 8))));
        let gss = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];
        assert_eq!(parse(&gss), Ok(Some((Startup::GssEncRequest, 8))));
        let cancel = [0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 0, 0, 0, 9];
        assert_eq!(
            parse(&cancel),
            Ok(Some((Startup::Cancel { pid: 7, secret: 9 }, 16)))
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n"),
            Err(ProtocolError::TooLong { .. })
        ));
        assert!(matches!(
            parse(&[0, 0, 0, 2]),
            Err(ProtocolError::TooShort { .. })
        ));
        assert_eq!(
            parse(&[0, 0, 0, 8, 0, 2, 0, 0]),
            Err(ProtocolError::UnsupportedVersion { major: 2, minor: 0 })
        );
        // Parameters without their terminator.
        assert!(parse(&[0, 0, 0, 12, 0, 3, 0, 0, b'u', 0, b'x', 0]).is_err());
    }
}
