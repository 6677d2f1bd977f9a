//! Framing of regular messages: a type byte, then a big-endian `i32` length that counts itself.

use super::ProtocolError;

/// Bytes of a message header (type byte and length).
pub const HEADER: usize = 5;

/// Where the next message in `buf` lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A whole message of `len` bytes (header included) with type `tag`.
    Frame { tag: u8, len: usize },
    /// The next message needs `len` bytes in all (header included), more than `buf` holds.
    Partial { len: usize },
    /// Not even a header yet.
    NeedHeader,
}

/// Looks at the start of `buf`. A length below 4 or a message over `max` bytes is an error,
/// reported before any memory is reserved for it.
pub fn next(buf: &[u8], max: usize) -> Result<Next, ProtocolError> {
    let Some(header) = buf.get(..HEADER) else {
        return Ok(Next::NeedHeader);
    };
    let [tag, a, b, c, d] =
        <[u8; HEADER]>::try_from(header).map_err(|_| super::malformed("header"))?;
    let declared = i32::from_be_bytes([a, b, c, d]);
    if declared < 4 {
        return Err(ProtocolError::TooShort {
            len: i64::from(declared),
            min: 4,
        });
    }
    let len = usize::try_from(declared).map_err(|_| super::malformed("header"))? + 1;
    if len > max {
        return Err(ProtocolError::TooLong {
            len: i64::from(declared),
            max,
        });
    }
    if buf.len() < len {
        Ok(Next::Partial { len })
    } else {
        Ok(Next::Frame { tag, len })
    }
}

/// Iterates over the messages of a buffer that holds only whole messages: `(tag, body range)`.
pub fn frames(buf: &[u8]) -> impl Iterator<Item = (u8, std::ops::Range<usize>)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = buf.get(at..)?;
        match next(rest, usize::MAX) {
            Ok(Next::Frame { tag, len }) => {
                let body = at + HEADER..at + len;
                at += len;
                Some((tag, body))
            }
            _ => None,
        }
    })
}

/// The length of the longest prefix of `buf` made of whole messages, and the size the buffer
/// must reach to hold the message after it.
pub fn complete_prefix(buf: &[u8], max: usize) -> Result<(usize, usize), ProtocolError> {
    let mut at = 0;
    loop {
        let rest = buf.get(at..).unwrap_or_default();
        match next(rest, max)? {
            Next::Frame { len, .. } => at += len,
            Next::Partial { len } => return Ok((at, at + len)),
            Next::NeedHeader => return Ok((at, at + HEADER)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index fixtures they built themselves.
mod tests {
    use super::*;

    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&(i32::try_from(body.len() + 4).unwrap_or(0)).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn every_cut_is_partial_or_whole() {
        let mut stream = msg(b'Q', b"select 1\0");
        stream.extend(msg(b'S', b""));
        for cut in 0..=stream.len() {
            let (whole, _) = complete_prefix(&stream[..cut], 1 << 20).expect("valid prefix");
            assert!(
                whole == 0 || whole == 14 || whole == 19,
                "cut {cut}: {whole}"
            );
            assert!(whole <= cut);
            let tags: Vec<u8> = frames(&stream[..whole]).map(|(t, _)| t).collect();
            assert_eq!(
                tags.len(),
                [0, 14, 19].iter().position(|&w| w == whole).unwrap_or(9)
            );
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert_eq!(
            next(&[b'Q', 0, 0, 0, 3], 100),
            Err(ProtocolError::TooShort { len: 3, min: 4 })
        );
        assert_eq!(
            next(&[b'Q', 0xff, 0xff, 0xff, 0xff], 100),
            Err(ProtocolError::TooShort { len: -1, min: 4 })
        );
        assert_eq!(
            next(&[b'D', 0, 1, 0, 0], 1000),
            Err(ProtocolError::TooLong {
                len: 65536,
                max: 1000
            })
        );
        assert_eq!(
            next(&[b'D', 0, 0, 0, 8, 1], 1000),
            Ok(Next::Partial { len: 9 })
        );
    }
}
