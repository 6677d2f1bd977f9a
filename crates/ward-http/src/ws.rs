//! WebSocket frames (RFC 6455), read as they pass in one direction of a relayed connection:
//! sans-IO, bytes in and whole messages out. The bytes themselves are relayed as they came;
//! this only observes them, so each message can be recorded.
//!
//! Ward offers no extension upstream (it drops `Sec-WebSocket-Extensions`), so a frame with a
//! reserved bit set, like an unknown opcode, is a protocol error and ends the connection:
//! nothing passes that Ward cannot read.

/// A whole message: a data message reassembled from its fragments, or a control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub opcode: Opcode,
    /// The payload, unmasked, up to the cap.
    pub data: Vec<u8>,
    /// The payload's whole size.
    pub bytes: u64,
    /// Only the first `cap` bytes are in `data`.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn of(code: u8) -> Option<Self> {
        Some(match code {
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
        }
    }

    fn control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// Why a stream of frames cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame has a reserved bit set, but no extension was agreed")]
    Reserved,
    #[error("unknown opcode {0}")]
    Opcode(u8),
    #[error("a control frame is fragmented or longer than 125 bytes")]
    Control,
    #[error("a continuation frame without a message to continue")]
    Continuation,
    #[error("a new message began before the last one ended")]
    Interleaved,
    #[error("a frame from the client is not masked")]
    Unmasked,
    #[error("a frame from the server is masked")]
    Masked,
}

/// The frame being read.
enum State {
    /// Collecting a header (2 to 14 bytes).
    Header,
    /// Reading `remaining` bytes of payload.
    Payload {
        opcode: Option<Opcode>,
        fin: bool,
        remaining: u64,
        mask: Option<[u8; 4]>,
        /// Bytes of this frame's payload unmasked so far (for the mask's offset).
        offset: usize,
    },
}

/// The frames of one direction.
pub struct Frames {
    from_client: bool,
    cap: usize,
    state: State,
    header: Vec<u8>,
    /// The data message being reassembled: its opcode, payload (up to `cap`) and size.
    message: Option<(Opcode, Vec<u8>, u64)>,
    /// The control frame being read (at most 125 bytes).
    control: Vec<u8>,
}

impl Frames {
    /// The frames a client sends (`from_client`: masked) or a server sends (unmasked); each
    /// message keeps at most `cap` bytes of its payload.
    pub fn new(from_client: bool, cap: usize) -> Self {
        Self {
            from_client,
            cap,
            state: State::Header,
            header: Vec::with_capacity(14),
            message: None,
            control: Vec::new(),
        }
    }

    /// Reads `bytes`, appending the messages they complete to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Message>) -> Result<(), FrameError> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Header => {
                    let need = header_len(&self.header);
                    let take = (need - self.header.len()).min(bytes.len());
                    self.header.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.header.len() == header_len(&self.header) {
                        self.start_frame(out)?;
                    }
                }
                State::Payload {
                    opcode,
                    remaining,
                    mask,
                    offset,
                    ..
                } => {
                    let take = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    let mut chunk = bytes[..take].to_vec();
                    bytes = &bytes[take..];
                    if let Some(key) = mask {
                        for (i, b) in chunk.iter_mut().enumerate() {
                            *b ^= key[(*offset + i) % 4];
                        }
                    }
                    *offset += take;
                    *remaining -= take as u64;
                    match opcode {
                        Some(o) if o.control() => self.control.extend_from_slice(&chunk),
                        _ => {
                            if let Some((_, data, size)) = &mut self.message {
                                let room = self.cap.saturating_sub(data.len()).min(chunk.len());
                                data.extend_from_slice(&chunk[..room]);
                                *size += chunk.len() as u64;
                            }
                        }
                    }
                    if *remaining == 0 {
                        self.end_frame(out);
                    }
                }
            }
        }
        Ok(())
    }

    /// A whole header is read: checks it and starts its payload.
    fn start_frame(&mut self, out: &mut Vec<Message>) -> Result<(), FrameError> {
        let h = std::mem::take(&mut self.header);
        let (fin, code, masked) = (h[0] & 0x80 != 0, h[0] & 0x0f, h[1] & 0x80 != 0);
        if h[0] & 0x70 != 0 {
            return Err(FrameError::Reserved);
        }
        if masked != self.from_client {
            return Err(if masked {
                FrameError::Masked
            } else {
                FrameError::Unmasked
            });
        }
        let (len, at) = match h[1] & 0x7f {
            126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
            127 => (
                u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                10,
            ),
            n => (u64::from(n), 2),
        };
        let mask = masked.then(|| [h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let opcode = match code {
            0 => None,
            c => Some(Opcode::of(c).ok_or(FrameError::Opcode(c))?),
        };
        match opcode {
            Some(o) if o.control() => {
                if !fin || len > 125 {
                    return Err(FrameError::Control);
                }
                self.control.clear();
            }
            Some(o) => {
                if self.message.is_some() {
                    return Err(FrameError::Interleaved);
                }
                self.message = Some((o, Vec::new(), 0));
            }
            None if self.message.is_none() => return Err(FrameError::Continuation),
            None => {}
        }
        self.state = State::Payload {
            opcode,
            fin,
            remaining: len,
            mask,
            offset: 0,
        };
        if len == 0 {
            self.end_frame(out);
        }
        Ok(())
    }

    /// The frame's payload is read: a control frame, or a data message's last fragment, is a
    /// message.
    fn end_frame(&mut self, out: &mut Vec<Message>) {
        let State::Payload { opcode, fin, .. } = std::mem::replace(&mut self.state, State::Header)
        else {
            return;
        };
        match opcode {
            Some(o) if o.control() => {
                let data = std::mem::take(&mut self.control);
                out.push(Message {
                    opcode: o,
                    bytes: data.len() as u64,
                    truncated: false,
                    data,
                });
            }
            _ if fin => {
                if let Some((opcode, data, bytes)) = self.message.take() {
                    out.push(Message {
                        opcode,
                        truncated: (data.len() as u64) < bytes,
                        data,
                        bytes,
                    });
                }
            }
            _ => {}
        }
    }
}

/// The length of the header that begins with `h` (2 until its second byte is known).
fn header_len(h: &[u8]) -> usize {
    let Some(&second) = h.get(1) else {
        return 2;
    };
    let len = match second & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    len + if second & 0x80 != 0 { 4 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as a peer writes it.
    fn frame(fin: bool, code: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | code];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => f.push(m | n as u8),
            n @ 126..=65535 => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(key) => {
                f.extend_from_slice(&key);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    fn read(frames: &mut Frames, bytes: &[u8], step: usize) -> Result<Vec<Message>, FrameError> {
        let mut out = Vec::new();
        for chunk in bytes.chunks(step.max(1)) {
            frames.push(chunk, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn messages_are_whole_whatever_the_chunking() {
        let key = Some([1, 2, 3, 4]);
        let big = vec![b'x'; 70_000];
        let mut wire = frame(false, 1, b"hel", key);
        wire.extend(frame(true, 9, b"ping!", key));
        wire.extend(frame(true, 0, b"lo", key));
        wire.extend(frame(true, 2, &big, key));
        wire.extend(frame(true, 1, b"", key));
        wire.extend(frame(true, 8, &[0x03, 0xe8, b'o', b'k'], key));
        for step in [1, 2, 3, 7, 64, 100_000] {
            let got = read(&mut Frames::new(true, 1 << 20), &wire, step).expect("reads");
            let summary: Vec<(Opcode, u64)> = got.iter().map(|m| (m.opcode, m.bytes)).collect();
            assert_eq!(
                summary,
                [
                    (Opcode::Ping, 5),
                    (Opcode::Text, 5),
                    (Opcode::Binary, 70_000),
                    (Opcode::Text, 0),
                    (Opcode::Close, 4)
                ],
                "step {step}"
            );
            assert_eq!(got[0].data, b"ping!");
            assert_eq!(got[1].data, b"hello");
            assert_eq!(got[2].data, big);
        }
    }

    #[test]
    fn a_message_past_the_cap_keeps_its_head_and_its_size() {
        let wire = frame(true, 1, &[b'a'; 1000], None);
        let got = read(&mut Frames::new(false, 10), &wire, 33).expect("reads");
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].data.len(), got[0].bytes, got[0].truncated),
            (10, 1000, true)
        );
    }

    #[test]
    fn what_cannot_be_read_is_an_error() {
        let key = Some([9, 9, 9, 9]);
        let cases: [(Vec<u8>, bool, FrameError); 7] = [
            (vec![0xc1, 0x80, 0, 0, 0, 0], true, FrameError::Reserved),
            (frame(true, 3, b"", key), true, FrameError::Opcode(3)),
            (frame(false, 9, b"", key), true, FrameError::Control),
            (frame(true, 0, b"x", key), true, FrameError::Continuation),
            (
                [frame(false, 1, b"a", key), frame(true, 1, b"b", key)].concat(),
                true,
                FrameError::Interleaved,
            ),
            (frame(true, 1, b"x", None), true, FrameError::Unmasked),
            (frame(true, 1, b"x", key), false, FrameError::Masked),
        ];
        for (wire, from_client, error) in cases {
            let got = read(&mut Frames::new(from_client, 100), &wire, 1);
            assert_eq!(got, Err(error));
        }
        let long_ping = frame(true, 9, &[0; 126], key);
        assert_eq!(
            read(&mut Frames::new(true, 100), &long_ping, 5),
            Err(FrameError::Control)
        );
    }
}
