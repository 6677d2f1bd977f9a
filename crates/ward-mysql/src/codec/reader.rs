//! A cursor over a packet's payload with checked reads of the protocol's integer and string
//! encodings (fixed little-endian integers, length-encoded integers and strings, NUL-terminated
//! strings).

use super::{ProtocolError, malformed};

pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    fn err(&self) -> ProtocolError {
        malformed(self.what)
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if n > self.buf.len() {
            return Err(self.err());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let b = self.bytes(N)?;
        b.try_into().map_err(|_| self.err())
    }

    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub fn u16(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// The first byte, not consumed.
    pub fn peek(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// A length-encoded integer; `Ok(None)` for the NULL marker `0xfb` (row cells).
    pub fn lenenc(&mut self) -> Result<Option<u64>, ProtocolError> {
        let n = match self.u8()? {
            0xfb => return Ok(None),
            0xfc => u64::from(self.u16()?),
            0xfd => {
                let [a, b, c] = self.array::<3>()?;
                u64::from(u32::from_le_bytes([a, b, c, 0]))
            }
            0xfe => u64::from_le_bytes(self.array()?),
            0xff => return Err(self.err()),
            n => u64::from(n),
        };
        Ok(Some(n))
    }

    /// A length-encoded integer where NULL has no meaning.
    pub fn int(&mut self) -> Result<u64, ProtocolError> {
        self.lenenc()?.ok_or_else(|| self.err())
    }

    /// A length-encoded string; `Ok(None)` for NULL.
    pub fn lenenc_bytes(&mut self) -> Result<Option<&'a [u8]>, ProtocolError> {
        match self.lenenc()? {
            None => Ok(None),
            Some(n) => {
                let n = usize::try_from(n).map_err(|_| self.err())?;
                self.bytes(n).map(Some)
            }
        }
    }

    /// A length-encoded string where NULL has no meaning.
    pub fn lenenc_str(&mut self) -> Result<&'a [u8], ProtocolError> {
        self.lenenc_bytes()?.ok_or_else(|| self.err())
    }

    /// A NUL-terminated string, without its terminator.
    pub fn cstr(&mut self) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.err())?;
        let s = self.bytes(end)?;
        self.bytes(1)?;
        Ok(s)
    }

    /// A NUL-terminated string, or the rest when the terminator is missing (some peers end a
    /// packet's last string without one).
    pub fn cstr_or_rest(&mut self) -> &'a [u8] {
        match self.buf.iter().position(|&b| b == 0) {
            Some(end) => {
                let (s, tail) = self.buf.split_at(end);
                self.buf = tail.get(1..).unwrap_or_default();
                s
            }
            None => self.rest(),
        }
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}

/// Appends a length-encoded integer.
pub fn put_lenenc(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=250 => out.push(n as u8),
        251..=0xffff => {
            out.push(0xfc);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            out.push(0xfd);
            let [a, b, c, _] = (n as u32).to_le_bytes();
            out.extend_from_slice(&[a, b, c]);
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Appends a length-encoded string.
pub fn put_lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    put_lenenc(out, s.len() as u64);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trips_at_every_width() {
        for n in [
            0,
            250,
            251,
            0xffff,
            0x1_0000,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_lenenc(&mut out, n);
            let mut r = Reader::new(&out, "test");
            assert_eq!(r.lenenc(), Ok(Some(n)));
            assert!(r.is_empty());
            // Cut short, it is an error, never a panic.
            for cut in 0..out.len() {
                let mut r = Reader::new(out.get(..cut).unwrap_or_default(), "test");
                assert!(r.lenenc().is_err());
            }
        }
    }

    #[test]
    fn null_and_ff_markers() {
        assert_eq!(Reader::new(&[0xfb], "t").lenenc(), Ok(None));
        assert!(Reader::new(&[0xff], "t").lenenc().is_err());
        assert!(Reader::new(&[0xfb], "t").int().is_err());
    }
}
