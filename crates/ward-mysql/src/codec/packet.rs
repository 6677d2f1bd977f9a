//! Packet framing: a 3-byte little-endian payload length and a sequence number, then the
//! payload. A payload of 2^24 - 1 bytes or more is split into packets of that size, ended by a
//! shorter one (possibly empty); [`next`] joins them back into one logical packet.

use super::ProtocolError;

pub const HEADER: usize = 4;
/// The payload size of a packet that another one continues.
pub const MAX_PAYLOAD: usize = 0xff_ffff;

/// What the start of a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A whole logical packet of `len` bytes on the wire (headers included), whose first
    /// physical packet has sequence number `seq`, and `packets` physical packets.
    Packet { seq: u8, len: usize, packets: u8 },
    /// A packet of this many bytes on the wire in all, not all of them here yet.
    Partial { len: usize },
    /// Not even a header.
    NeedHeader,
}

fn header(buf: &[u8]) -> Option<(usize, u8)> {
    match buf {
        [a, b, c, seq, ..] => Some((u32::from_le_bytes([*a, *b, *c, 0]) as usize, *seq)),
        _ => None,
    }
}

/// The logical packet at the start of `buf`. A payload over `max` bytes is refused as soon as
/// its headers say so, before its bytes are buffered.
pub fn next(buf: &[u8], max: usize) -> Result<Next, ProtocolError> {
    let mut at = 0usize;
    let mut payload = 0usize;
    let mut packets = 0u8;
    let mut first_seq = None;
    loop {
        let Some((len, seq)) = buf.get(at..).and_then(header) else {
            return Ok(match first_seq {
                None => Next::NeedHeader,
                // Room for the continuation's header at least.
                Some(_) => Next::Partial { len: at + HEADER },
            });
        };
        first_seq.get_or_insert(seq);
        payload += len;
        if payload > max {
            return Err(ProtocolError::TooLong { len: payload, max });
        }
        packets = packets.wrapping_add(1);
        at += HEADER + len;
        if buf.len() < at {
            return Ok(Next::Partial { len: at });
        }
        if len < MAX_PAYLOAD {
            return Ok(Next::Packet {
                seq: first_seq.unwrap_or(seq),
                len: at,
                packets,
            });
        }
    }
}

/// The payload of the logical packet `wire` (as [`next`] delimited it), its headers removed.
pub fn payload(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire.len());
    let mut rest = wire;
    while let Some((len, _)) = header(rest) {
        let body = rest.get(HEADER..HEADER + len).unwrap_or_default();
        out.extend_from_slice(body);
        rest = rest.get(HEADER + len..).unwrap_or_default();
    }
    out
}

/// Appends `payload` as packets starting at sequence number `seq`; returns the sequence number
/// of the next packet.
pub fn write(out: &mut Vec<u8>, mut seq: u8, payload: &[u8]) -> u8 {
    let mut chunks = payload.chunks(MAX_PAYLOAD);
    loop {
        let chunk = chunks.next().unwrap_or_default();
        let [a, b, c, _] = (chunk.len() as u32).to_le_bytes();
        out.extend_from_slice(&[a, b, c, seq]);
        out.extend_from_slice(chunk);
        seq = seq.wrapping_add(1);
        if chunk.len() < MAX_PAYLOAD {
            return seq;
        }
    }
}

/// Appends one packet whose payload `fill` writes (Ward's own packets, all far below the
/// split size).
pub fn build(out: &mut Vec<u8>, seq: u8, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, seq]);
    fill(out);
    let len = (out.len() - start - HEADER) as u32;
    let [a, b, c, _] = len.to_le_bytes();
    if let Some(h) = out.get_mut(start..start + 3) {
        h.copy_from_slice(&[a, b, c]);
    }
}

/// Rewrites the sequence numbers of the packets in `wire` to count on from `seq`; returns the
/// next one.
pub fn renumber(wire: &mut [u8], mut seq: u8) -> u8 {
    let mut at = 0;
    while let Some((len, _)) = wire.get(at..).and_then(header) {
        if let Some(s) = wire.get_mut(at + 3) {
            *s = seq;
        }
        seq = seq.wrapping_add(1);
        at += HEADER + len;
    }
    seq
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_cut_anywhere_is_partial() {
        let mut wire = Vec::new();
        write(&mut wire, 3, b"\x03select 1");
        for cut in 0..wire.len() {
            let got = next(wire.get(..cut).unwrap_or_default(), 1 << 20);
            assert!(
                matches!(got, Ok(Next::NeedHeader | Next::Partial { .. })),
                "{cut}: {got:?}"
            );
        }
        assert_eq!(
            next(&wire, 1 << 20),
            Ok(Next::Packet {
                seq: 3,
                len: wire.len(),
                packets: 1
            })
        );
        assert_eq!(payload(&wire), b"\x03select 1");
    }

    #[test]
    fn long_payloads_split_and_join() {
        let big = vec![7u8; MAX_PAYLOAD + 10];
        let mut wire = Vec::new();
        assert_eq!(write(&mut wire, 0, &big), 2);
        assert_eq!(
            next(&wire, 1 << 25),
            Ok(Next::Packet {
                seq: 0,
                len: wire.len(),
                packets: 2
            })
        );
        assert_eq!(payload(&wire), big);
        // Exactly the split size needs an empty packet after it.
        let mut wire = Vec::new();
        assert_eq!(
            write(&mut wire, 0, big.get(..MAX_PAYLOAD).unwrap_or_default()),
            2
        );
        assert_eq!(wire.len(), MAX_PAYLOAD + 2 * HEADER);
        // Refused by its header, before the bytes arrive.
        assert_eq!(
            next(wire.get(..HEADER).unwrap_or_default(), 1000),
            Err(ProtocolError::TooLong {
                len: MAX_PAYLOAD,
                max: 1000
            })
        );
    }

    #[test]
    fn renumbering() {
        let mut wire = Vec::new();
        write(&mut wire, 5, b"a");
        write(&mut wire, 6, b"b");
        assert_eq!(renumber(&mut wire, 1), 3);
        assert_eq!(wire, b"\x01\0\0\x01a\x01\0\0\x02b");
    }
}
