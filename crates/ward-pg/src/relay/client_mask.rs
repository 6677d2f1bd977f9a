//! What a `mask_client` session's client receives instead of the server's bytes: the state for
//! masking rows and COPY data (applied by the server direction, which knows the columns and the
//! COPY in flight), and errors, notices and notifications with their text masked.

use std::borrow::Cow;

use super::*;

/// Masking of what reaches the client, for grants with `mask_client`, with the cell plan of the
/// current columns.
pub struct ClientMask {
    pub(super) masker: Masker,
    pub(super) plan: Option<(Arc<[Column]>, CellPlan)>,
    /// COPY TO STDOUT data in flight: masked as a stream, so a secret split across CopyData
    /// messages is still caught and never half sent.
    pub(super) copy: Option<StreamMasker>,
}

/// ErrorResponse and NoticeResponse fields passed as they are: severity, SQLSTATE, positions and
/// the server's source location are the server's own vocabulary, never data, and clients parse
/// them. Every other field (message, detail, hint, context, internal query, object names, and
/// any field a later server adds) is masked.
fn passes_unmasked(code: u8) -> bool {
    matches!(code, b'S' | b'V' | b'C' | b'P' | b'p' | b'F' | b'L' | b'R')
}

impl ClientMask {
    pub fn new(masker: Masker) -> Self {
        Self {
            masker,
            plan: None,
            copy: None,
        }
    }

    /// Appends an ErrorResponse or NoticeResponse (`tag`) with its text fields masked; `frame`
    /// itself when nothing matched. A message that does not parse is not sent: the relay stops
    /// on it and tells the client.
    pub fn fields(&self, tag: u8, body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        let Ok(fields) = backend::error_fields(body) else {
            return;
        };
        // Clients see masked text; the record counts matches, so this report is not kept.
        let mut report = MaskReport::new();
        let masked: Vec<(u8, Cow<'_, [u8]>)> = fields
            .into_iter()
            .map(|(code, value)| {
                let value = if passes_unmasked(code) {
                    Cow::Borrowed(value)
                } else {
                    self.masker.mask(value, &mut report)
                };
                (code, value)
            })
            .collect();
        if masked.iter().all(|(_, v)| matches!(v, Cow::Borrowed(_))) {
            out.extend_from_slice(frame);
        } else {
            encode::fields_message(out, tag, &masked);
        }
    }

    /// Appends a NotificationResponse with its payload masked (the channel is a name, kept as
    /// the record keeps it); `frame` itself when nothing matched, nothing when it does not parse.
    pub fn notification(&self, body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        let Ok((pid, channel, payload)) = backend::notification(body) else {
            return;
        };
        match self.masker.mask(payload, &mut MaskReport::new()) {
            Cow::Borrowed(_) => out.extend_from_slice(frame),
            Cow::Owned(payload) => encode::notification(out, pid, channel, &payload),
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)] // Tests index fixtures they built themselves.
mod tests {
    use super::*;

    const CARD: &[u8] = b"4111 1111 1111 1111";

    fn mask() -> ClientMask {
        ClientMask::new(Masker::builtin().unwrap())
    }

    /// The one message in `out`: its tag and body, after checking the length header covers
    /// exactly the bytes written.
    fn single(out: &[u8]) -> (u8, &[u8]) {
        let mut frames = frame::frames(out);
        let (tag, body) = frames.next().expect("a whole message");
        assert!(frames.next().is_none());
        assert_eq!(body.end, out.len(), "the length header covers the message");
        (tag, &out[body])
    }

    fn error(tag: u8, fields: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        encode::fields_message(&mut out, tag, fields);
        out
    }

    #[test]
    fn text_fields_of_errors_and_notices_are_masked_and_the_rest_kept() {
        let context = b"SQL statement \"SELECT '4111 1111 1111 1111'::int\"\nPL/pgSQL function inline_code_block line 1 at PERFORM";
        let original: Vec<(u8, &[u8])> = vec![
            (b'S', b"ERROR"),
            (b'V', b"ERROR"),
            (b'C', b"22P02"),
            (
                b'M',
                b"invalid input syntax for type integer: \"4111 1111 1111 1111\"",
            ),
            (b'D', b"key AKIAIOSFODNN7EXAMPLE"),
            (b'H', b"ask ada@example.com"),
            (b'W', context),
            (b'q', b"SELECT '4111 1111 1111 1111'::int"),
            (b'p', b"8"),
            (b'F', b"numutils.c"),
            (b'L', b"232"),
            (b'R', b"pg_strtoint32_safe"),
        ];
        for tag in [backend::ERROR_RESPONSE, backend::NOTICE_RESPONSE] {
            let frame = error(tag, &original);
            let mut out = Vec::new();
            mask().fields(tag, &frame[frame::HEADER..], &frame, &mut out);
            let (got_tag, body) = single(&out);
            assert_eq!(got_tag, tag);
            let fields = backend::error_fields(body).unwrap();
            let text = |code: u8| {
                let v = fields.iter().find(|(c, _)| *c == code).unwrap().1;
                String::from_utf8_lossy(v).into_owned()
            };
            assert_eq!(fields.len(), original.len());
            assert_eq!(
                text(b'M'),
                "invalid input syntax for type integer: \"[REDACTED:card]\""
            );
            assert_eq!(text(b'D'), "key [REDACTED:aws_access_key]");
            assert_eq!(text(b'H'), "ask [REDACTED:email]");
            assert!(text(b'W').starts_with("SQL statement \"SELECT '[REDACTED:card]'::int\"\n"));
            assert_eq!(text(b'q'), "SELECT '[REDACTED:card]'::int");
            for code in [b'S', b'V', b'C', b'p', b'F', b'L', b'R'] {
                let want = original.iter().find(|(c, _)| *c == code).unwrap().1;
                assert_eq!(text(code).as_bytes(), want, "field {}", code as char);
            }
            assert!(!out.windows(CARD.len()).any(|w| w == CARD));
        }
    }

    #[test]
    fn clean_messages_go_on_as_they_came() {
        // Not UTF-8 (a LATIN1 server encoding): bytes are kept, not converted.
        let frame = error(
            backend::NOTICE_RESPONSE,
            &[(b'S', b"NOTICE"), (b'M', b"caf\xe9 ouvert")],
        );
        let mut out = Vec::new();
        mask().fields(backend::NOTICE_RESPONSE, &frame[5..], &frame, &mut out);
        assert_eq!(out, frame);

        let mut frame = Vec::new();
        encode::notification(&mut frame, 42, b"orders", b"order 17 shipped");
        let mut out = Vec::new();
        mask().notification(&frame[5..], &frame, &mut out);
        assert_eq!(out, frame);
    }

    #[test]
    fn notification_payloads_are_masked_and_channels_kept() {
        let mut frame = Vec::new();
        encode::notification(
            &mut frame,
            4711,
            b"tokens",
            b"token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB for \xe9",
        );
        let mut out = Vec::new();
        mask().notification(&frame[5..], &frame, &mut out);
        let (tag, body) = single(&out);
        assert_eq!(tag, backend::NOTIFICATION);
        let (pid, channel, payload) = backend::notification(body).unwrap();
        assert_eq!((pid, channel), (4711, &b"tokens"[..]));
        assert_eq!(payload, b"token [REDACTED:github_token] for \xe9");
    }

    #[test]
    fn messages_that_do_not_parse_are_not_sent() {
        let frame = error(backend::ERROR_RESPONSE, &[(b'M', CARD)]);
        // Cut before the terminating zero of the field list: whatever the relay then does, these
        // bytes must not reach the client.
        for cut in frame::HEADER..frame.len() - 1 {
            let body = &frame[frame::HEADER..cut];
            let mut out = Vec::new();
            mask().fields(backend::ERROR_RESPONSE, body, &frame[..cut], &mut out);
            assert!(out.is_empty(), "cut {cut}");
            mask().notification(body, &frame[..cut], &mut out);
            assert!(out.is_empty(), "cut {cut}");
        }
    }
}
