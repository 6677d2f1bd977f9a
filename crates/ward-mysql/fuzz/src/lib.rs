//! Shared harness of the ward-mysql fuzz targets: packet framing replayed over arbitrary read
//! boundaries and checked against a one-shot walk of the same bytes, `packet::write` round
//! trips, and record payloads checked to be JSON.
//!
//! Every check here is an invariant of `ward_mysql::codec`; a failed `assert!` is a bug in the
//! codec (or in how the gateway uses it), not in the input.

use std::ops::Range;

use bytes::BytesMut;
use ward_mysql::codec::ProtocolError;
use ward_mysql::codec::packet::{self, HEADER, MAX_PAYLOAD, Next};
use ward_mysql::codec::reader::put_lenenc_str;
use ward_mysql::codec::response::Column;
use ward_mysql::wire::Packet;
use ward_store::EventBody;

/// The longest packet the gateway reads from a client before it is authenticated
/// (`session::MAX_LOGIN_PACKET`, private to the crate).
pub const MAX_LOGIN_PACKET: usize = 64 * 1024;

/// The packet size limit to frame with, chosen by an input's first (control) byte so that both
/// `TooLong` and large packets are reached: a control byte with the high bit set selects a
/// small limit.
pub fn limit(control: u8) -> usize {
    if control & 0x80 != 0 {
        usize::from(control & 0x3f) * 8
    } else {
        1 << 20
    }
}

/// One whole logical packet of a stream: the sequence number of its first physical packet, how
/// many physical packets it spans, and where it lies in the stream (headers included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u8,
    pub packets: u8,
    pub wire: Range<usize>,
}

impl Frame {
    /// The packet as the gateway's reader hands it out (`wire::PacketReader`).
    pub fn packet(&self, stream: &[u8]) -> Packet {
        Packet {
            wire: BytesMut::from(stream.get(self.wire.clone()).unwrap_or_default()),
            seq: self.seq,
            packets: self.packets,
        }
    }
}

/// How a stream of packets ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every byte belongs to a whole packet.
    Clean,
    /// The stream stops inside a packet (or its header).
    Partial,
    /// A header declares a payload over the limit.
    TooLong,
}

/// The physical packets of `wire` (one logical packet), as (sequence number, payload length).
fn physical(wire: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(&[a, b, c, seq]) = wire.get(at..at + HEADER) {
        let len = u32::from_le_bytes([a, b, c, 0]) as usize;
        out.push((seq, len));
        at += HEADER + len;
    }
    assert_eq!(
        at,
        wire.len(),
        "a logical packet ends with its last physical one"
    );
    out
}

/// Walks `stream` one `packet::next` at a time, checking each answer against the buffer.
pub fn walk(stream: &[u8], max: usize) -> (Vec<Frame>, End) {
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        let rest = stream.get(at..).unwrap_or_default();
        match packet::next(rest, max) {
            Ok(Next::Packet { seq, len, packets }) => {
                assert!(len <= rest.len(), "packet of {len} in {}", rest.len());
                let wire = rest.get(..len).unwrap_or_default();
                let parts = physical(wire);
                assert_eq!(parts.len() % 256, usize::from(packets), "packet count");
                assert_eq!(
                    parts.first().map(|p| p.0),
                    Some(seq),
                    "first sequence number"
                );
                // Every physical packet but the last is full; the last is not.
                let (last, full) = parts.split_last().expect("at least one packet");
                assert!(full.iter().all(|p| p.1 == MAX_PAYLOAD), "{parts:?}");
                assert!(last.1 < MAX_PAYLOAD, "{parts:?}");
                let payload = packet::payload(wire);
                assert_eq!(payload.len() + HEADER * parts.len(), len);
                assert!(payload.len() <= max, "payload {} over {max}", payload.len());
                // The gateway's `Packet` gives the same payload and the answer's number.
                let frame = Frame {
                    seq,
                    packets,
                    wire: at..at + len,
                };
                let p = frame.packet(stream);
                assert_eq!(p.payload().as_ref(), payload.as_slice());
                assert_eq!(p.next_seq(), seq.wrapping_add(packets));
                cut_short(wire, max);
                round_trip(seq, &payload);
                frames.push(frame);
                at += len;
            }
            Ok(Next::Partial { len }) => {
                assert!(len > rest.len(), "partial {len} of {}", rest.len());
                assert!(rest.len() >= HEADER);
                return (frames, End::Partial);
            }
            Ok(Next::NeedHeader) => {
                assert!(rest.len() < HEADER);
                let end = if rest.is_empty() {
                    End::Clean
                } else {
                    End::Partial
                };
                return (frames, end);
            }
            Err(ProtocolError::TooLong { len, max: m }) => {
                assert!(
                    m == max && len > max,
                    "too long {len} (max {m}, limit {max})"
                );
                return (frames, End::TooLong);
            }
            Err(e) => panic!("packet::next gave {e:?}"),
        }
    }
}

/// A whole packet cut short is never whole, and what it says it needs is never more than the
/// whole packet.
fn cut_short(wire: &[u8], max: usize) {
    let len = wire.len();
    for cut in [
        0,
        1,
        HEADER - 1,
        HEADER,
        HEADER + 1,
        len / 2,
        len.saturating_sub(1),
    ] {
        if cut >= len {
            continue;
        }
        match packet::next(wire.get(..cut).unwrap_or_default(), max) {
            Ok(Next::NeedHeader) => assert!(cut < HEADER, "cut {cut}: no header"),
            Ok(Next::Partial { len: need }) => {
                assert!(
                    need > cut && need <= len,
                    "cut {cut}: needs {need} of {len}"
                )
            }
            other => panic!("cut {cut} of {len}: {other:?}"),
        }
    }
}

/// What `packet::write` makes of `payload` is one logical packet with that payload, numbered
/// from `seq`; `renumber` and `build` agree with it.
pub fn round_trip(seq: u8, payload: &[u8]) {
    let mut out = Vec::new();
    let after = packet::write(&mut out, seq, payload);
    let packets = after.wrapping_sub(seq);
    assert_eq!(
        packet::next(&out, usize::MAX),
        Ok(Next::Packet {
            seq,
            len: out.len(),
            packets
        })
    );
    assert_eq!(packet::payload(&out), payload);
    assert_eq!(out.len(), payload.len() + HEADER * usize::from(packets));
    if !payload.is_empty() && payload.len() < MAX_PAYLOAD {
        assert_eq!(
            packet::next(&out, payload.len() - 1),
            Err(ProtocolError::TooLong {
                len: payload.len(),
                max: payload.len() - 1
            })
        );
    }
    let other = seq ^ 0x5a;
    assert_eq!(
        packet::renumber(&mut out, other),
        other.wrapping_add(packets)
    );
    assert!(matches!(packet::next(&out, usize::MAX), Ok(Next::Packet { seq, .. }) if seq == other));
    if payload.len() < MAX_PAYLOAD {
        let mut built = Vec::new();
        packet::build(&mut built, other, |p| p.extend_from_slice(payload));
        assert_eq!(built, out);
    }
}

/// Replays the gateway's read loop (`wire::PacketReader::next_within`): bytes of `stream`
/// arrive in reads of the sizes `reads` yields, and after each read every whole packet at the
/// front of the buffer is split off. Whether it stopped on a packet over the limit.
pub fn reader(
    stream: &[u8],
    max: usize,
    mut reads: impl Iterator<Item = usize>,
) -> (Vec<Frame>, bool) {
    let mut frames = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    // Where `buf` starts in the stream, and how much of the stream has been read.
    let mut base = 0;
    let mut read = 0;
    loop {
        match packet::next(&buf, max) {
            Ok(Next::Packet { seq, len, packets }) => {
                assert!(len <= buf.len());
                frames.push(Frame {
                    seq,
                    packets,
                    wire: base..base + len,
                });
                buf.drain(..len);
                base += len;
                continue;
            }
            Ok(Next::Partial { len }) => assert!(len > buf.len()),
            Ok(Next::NeedHeader) => assert!(buf.len() < HEADER),
            Err(_) => return (frames, true),
        }
        let left = stream.len() - read;
        if left == 0 {
            return (frames, false);
        }
        let n = reads.next().unwrap_or(left).clamp(1, left);
        buf.extend_from_slice(stream.get(read..read + n).unwrap_or_default());
        read += n;
    }
}

/// Frames `stream` in one walk and through the read loop at several sets of read boundaries
/// (all at once, one byte at a time, sizes drawn from the input), checks they agree, and
/// returns the whole packets and how the stream ends.
pub fn frames(stream: &[u8], max: usize) -> (Vec<Frame>, End) {
    let (walked, end) = walk(stream, max);
    let drawn = stream
        .iter()
        .rev()
        .map(|&b| usize::from(b % 23) + 1)
        .cycle();
    for (how, (seen, too_long)) in [
        ("all at once", reader(stream, max, std::iter::empty())),
        ("byte by byte", reader(stream, max, std::iter::repeat(1))),
        ("drawn", reader(stream, max, drawn)),
    ] {
        // A header over the limit is refused as soon as it is read, whatever came with it.
        assert_eq!(too_long, end == End::TooLong, "{how}: validity");
        assert_eq!(
            seen, walked,
            "{how}: the reader split the stream differently"
        );
    }
    (walked, end)
}

/// Appends a column definition (ColumnDefinition41) for `c`, as a server sends it.
pub fn encode_column(out: &mut Vec<u8>, c: &Column) {
    for s in [
        "def",
        &c.schema,
        &c.table,
        &c.org_table,
        &c.name,
        &c.org_name,
    ] {
        put_lenenc_str(out, s.as_bytes());
    }
    out.push(0x0c);
    out.extend_from_slice(&c.charset.to_le_bytes());
    out.extend_from_slice(&c.length.to_le_bytes());
    out.push(c.type_code);
    out.extend_from_slice(&c.flags.to_le_bytes());
    out.push(c.decimals);
    out.extend_from_slice(&[0, 0]);
}

/// Appends a text-protocol row of `cells` (`None` for NULL).
pub fn encode_row(out: &mut Vec<u8>, cells: &[Option<&[u8]>]) {
    for cell in cells {
        match cell {
            None => out.push(0xfb),
            Some(c) => put_lenenc_str(out, c),
        }
    }
}

/// Checks that a record payload is one valid JSON value.
pub fn assert_json(payload: &[u8]) {
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(payload) {
        panic!(
            "payload is not JSON ({e}): {}",
            String::from_utf8_lossy(payload)
        );
    }
}

/// Writes an event's payload as the recorder does (masked) and checks it is JSON.
pub fn record(event: &impl EventBody) {
    let mut out = Vec::new();
    event.write_payload(&mut out, masker(), &mut ward_mask::MaskReport::new());
    assert_json(&out);
}

/// The built-in masker, compiled once: record payloads are masked as the recorder masks them.
pub fn masker() -> &'static ward_mask::Masker {
    static MASKER: std::sync::OnceLock<ward_mask::Masker> = std::sync::OnceLock::new();
    MASKER.get_or_init(|| match ward_mask::Masker::builtin() {
        Ok(m) => m,
        Err(e) => panic!("built-in masking rules: {e}"),
    })
}
