//! An upgraded WebSocket connection, relayed and recorded message by message.

use super::*;

impl Session {
    /// Relays an upgraded WebSocket connection, recording each message as it passes.
    pub(super) async fn relay_websocket(
        self: Arc<Self>,
        client: hyper::upgrade::OnUpgrade,
        upstream: hyper::upgrade::OnUpgrade,
        mut stop: watch::Receiver<bool>,
    ) {
        let (client, upstream) = match tokio::join!(client, upstream) {
            (Ok(c), Ok(u)) => (TokioIo::new(c), TokioIo::new(u)),
            _ => return,
        };
        let (mut client_rx, mut client_tx) = tokio::io::split(client);
        let (mut up_rx, mut up_tx) = tokio::io::split(upstream);
        let cap = usize::try_from(self.cap).unwrap_or(usize::MAX);
        let (mut from_client, mut from_server) = (Frames::new(true, cap), Frames::new(false, cap));
        let (mut client_buf, mut up_buf) = (vec![0u8; 16 << 10], vec![0u8; 16 << 10]);
        let mut ended = self.terminated.clone();
        let mut messages = Vec::new();
        loop {
            let (read, from) = tokio::select! {
                n = client_rx.read(&mut client_buf) => (n, true),
                n = up_rx.read(&mut up_buf) => (n, false),
                _ = terminated(&mut ended) => break,
                // Ward stops: the connection ends, and its session with it.
                _ = stop.changed() => break,
            };
            let n = match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (bytes, frames) = if from {
                self.bytes_up.fetch_add(n as u64, Ordering::Relaxed);
                (&client_buf[..n], &mut from_client)
            } else {
                self.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
                (&up_buf[..n], &mut from_server)
            };
            if let Err(e) = frames.push(bytes, &mut messages) {
                let side = if from { "client" } else { "resource" };
                let error = SessionError {
                    severity: "ERROR".into(),
                    message: format!(
                        "the {side} sent a WebSocket frame Ward cannot read ({e}): the connection is closed"
                    ),
                    resource: None,
                };
                self.rec
                    .record(JsonBody::from(Payload::SessionError(error)))
                    .await;
                break;
            }
            for m in messages.drain(..) {
                self.record_message(m, from).await;
            }
            let written = if from {
                up_tx.write_all(bytes).await
            } else {
                client_tx.write_all(bytes).await
            };
            if written.is_err() {
                break;
            }
        }
        let _ = client_tx.shutdown().await;
        let _ = up_tx.shutdown().await;
    }

    async fn record_message(&self, m: Message, from_client: bool) {
        let mut report = MaskReport::new();
        let (code, data) = match m.opcode {
            Opcode::Close if m.data.len() >= 2 => (
                Some(u16::from_be_bytes([m.data[0], m.data[1]])),
                &m.data[2..],
            ),
            _ => (None, &m.data[..]),
        };
        let masked = self.record_masker.mask(data, &mut report);
        let chunk = ward_store::stream::terminal_data(&masked);
        let message = HttpWebsocket {
            from: if from_client { "client" } else { "server" }.into(),
            opcode: m.opcode.as_str().into(),
            data: chunk.data,
            data_b64: chunk.data_b64,
            bytes: m.bytes,
            truncated: m.truncated.then_some(true),
            code,
        };
        let (kind, value) = Payload::HttpWebsocket(message).into_parts();
        self.rec
            .record_sized(PremaskedJson(kind, value, report), masked.len())
            .await;
    }
}
