//! One identity's session on one resource: each request recorded, checked and sent upstream,
//! and the answer relayed and recorded (its bodies as they pass; a prompt and an answer of an
//! AI model API read whole).

use super::*;

mod websocket;

/// One identity's session on one resource.
pub(super) struct Session {
    rec: SessionRecorder,
    resource: ward_config::Resource,
    upstream_user: String,
    upstream_password: Option<Secret>,
    guardrails: Option<ward_policy::SessionGuardrails>,
    reviewer: ward_admit::Reviewer,
    record_masker: Masker,
    client_masker: Option<Masker>,
    /// Prompts to an AI model are masked before the provider sees them.
    mask_upstream: bool,
    /// Bytes of each body stored at most (`[recording] max_result_bytes`).
    cap: u64,
    /// Bytes of a prompt or an answer read whole at most (`[recording] max_message_bytes`).
    max_message: u64,
    /// Stream maskers of bodies recorded to their end, for the next bodies (making one costs
    /// its automata's caches).
    maskers: std::sync::Mutex<Vec<StreamMasker>>,
    /// The connection to the resource, opened at the first request.
    upstream: Mutex<Option<SendRequest<Piped>>>,
    /// Set when the session is terminated from outside it.
    terminated: watch::Receiver<Option<Arc<Termination>>>,
    /// Waits for the termination (and holds the session's place among the open ones).
    watcher: JoinHandle<()>,
    pub(super) checked: std::sync::Mutex<Instant>,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

/// Resolves once the session is terminated.
async fn terminated(ended: &mut watch::Receiver<Option<Arc<Termination>>>) {
    let _ = ended.wait_for(Option::is_some).await;
}

fn request_chunk(mut chunk: Terminal) -> Payload {
    chunk.stream = Some("request".into());
    Payload::HttpBody(chunk)
}

fn response_chunk(mut chunk: Terminal) -> Payload {
    chunk.stream = Some("response".into());
    Payload::HttpBody(chunk)
}

impl Session {
    /// `limits`: bytes of each body stored, and of a prompt or answer read whole, at most.
    pub(super) fn new(admitted: Admitted, limits: (u64, u64)) -> Self {
        let (cap, max_message) = limits;
        let Admitted {
            grant,
            resource,
            upstream_user,
            upstream_password,
            guardrails,
            record_masker,
            client_masker,
            recorder: rec,
            mut terminable,
            reviewer,
            ..
        } = admitted;
        let (tx, terminated) = watch::channel(None);
        // Admission's link to the session, moved into the task that waits on it: dropped
        // (the session no longer open) when the task is aborted at the session's end.
        let watcher = {
            let rec = rec.clone();
            tokio::spawn(async move {
                let termination = terminable.terminated().await;
                rec.record(termination.event()).await;
                let _ = tx.send(Some(termination));
                std::future::pending::<()>().await;
            })
        };
        Self {
            rec,
            resource,
            upstream_user,
            upstream_password,
            guardrails,
            reviewer,
            record_masker,
            client_masker,
            mask_upstream: grant.mask_upstream,
            cap,
            max_message,
            maskers: std::sync::Mutex::new(Vec::new()),
            upstream: Mutex::new(None),
            terminated,
            watcher,
            checked: std::sync::Mutex::new(Instant::now()),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
        }
    }

    /// A stream recorder for a body, with a masker of an earlier body when there is one.
    fn body_record(&self, payload: fn(Terminal) -> Payload) -> StreamRecord {
        let reused = self.maskers.lock().ok().and_then(|mut m| m.pop());
        match reused {
            Some(masker) => StreamRecord::with(masker, payload),
            None => StreamRecord::new(&self.record_masker, payload),
        }
    }

    /// A body recorded to its end gives its masker back.
    fn body_done(&self, stream: StreamRecord) {
        if let Ok(mut m) = self.maskers.lock() {
            m.push(stream.into_masker());
        }
    }

    pub(super) fn termination(&self) -> Option<Arc<Termination>> {
        self.terminated.borrow().clone()
    }

    pub(super) async fn end(&self) {
        self.watcher.abort();
        let outcome = if self.termination().is_some() {
            Outcome::Terminated
        } else {
            Outcome::Ok
        };
        self.rec
            .end(
                outcome,
                self.bytes_up.load(Ordering::Relaxed),
                self.bytes_down.load(Ordering::Relaxed),
            )
            .await;
    }

    async fn deny(&self, status: StatusCode, code: &str, denied: PolicyDenied) -> Response<Piped> {
        let message = denied.message.clone().unwrap_or_default();
        self.rec
            .record(JsonBody::from(Payload::PolicyDenied(denied)))
            .await;
        ward_error(status, code, &message)
    }

    /// Records `req`, checks it, sends it upstream, and relays the answer.
    pub(super) async fn forward(
        self: Arc<Self>,
        conn: &Arc<Conn>,
        mut req: Request<Incoming>,
        rest: String,
    ) -> Response<Piped> {
        if let Some(t) = self.termination() {
            let mut response = ward_error(StatusCode::FORBIDDEN, "terminated", &t.to_string());
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        let method = req.method().as_str().to_owned();
        let query = req.uri().query().map(str::to_owned);
        let (recorded, removed) = headers::recorded(req.headers());
        self.rec
            .record(MaskedJson::from(Payload::HttpRequest(HttpRequest {
                method: method.clone(),
                path: rest.clone(),
                query: query.clone(),
                headers: recorded,
                removed,
            })))
            .await;
        let line = match &query {
            Some(q) => format!("{method} {rest}?{q}"),
            None => format!("{method} {rest}"),
        };
        // Checked as sent, and fully decoded: a service may decode `%2F` too.
        let denial = self.guardrails.as_ref().and_then(|g| {
            g.check_http(&method, &rest, query.as_deref())
                .or_else(|| g.check_http(&method, &headers::fully_decoded(&rest), query.as_deref()))
        });
        if let Some(denial) = denial {
            let refused = denial.request_message();
            let decided = self
                .reviewer
                .decide(&denial, (&line, "the request"), refused, &self.rec)
                .await;
            if let Err(message) = decided {
                let denied = PolicyDenied {
                    rule: Some(denial.rule.clone()),
                    reason: Some(denial.code().to_owned()),
                    protocol: Some("http".into()),
                    message: Some(message),
                    command: Some(line),
                    ..PolicyDenied::default()
                };
                return self.deny(StatusCode::FORBIDDEN, "denied", denied).await;
            }
        }
        let websocket = is_websocket(req.headers());
        if websocket && self.client_masker.is_some() {
            let denied = PolicyDenied {
                protocol: Some("http".into()),
                refused: Some("websocket".into()),
                message: Some("this grant masks what its clients receive (mask_client), which Ward does not do for WebSocket messages: the upgrade is refused".into()),
                command: Some(line),
                ..PolicyDenied::default()
            };
            return self.deny(StatusCode::FORBIDDEN, "denied", denied).await;
        }
        let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
        let (parts, incoming) = req.into_parts();
        let ai = self
            .resource
            .api
            .and_then(|api| ai::Endpoint::of(api, &parts.method, &rest));
        // A prompt is read whole (to record it, check it and maybe mask it); any other body
        // streams upstream as it comes.
        let (prompt, streamed) = match ai {
            Some(endpoint) => match self.read_prompt(endpoint, incoming, &line).await {
                Ok(body) => (Some(body), None),
                Err(refused) => return refused,
            },
            None => (None, Some(incoming)),
        };
        let (mut upstream_req, feed) =
            match self.upstream_request(parts, &rest, query.as_deref(), conn) {
                Ok(r) => r,
                Err(e) => return ward_error(StatusCode::BAD_REQUEST, "bad_request", &e),
            };
        match (prompt, streamed) {
            (Some(body), _) => {
                upstream_req
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                if !body.is_empty() {
                    let _ = feed.try_send(Ok(Frame::data(body)));
                }
                // The body ends here.
                drop(feed);
            }
            (None, Some(incoming)) => {
                tokio::spawn(self.clone().pump_request(incoming, feed));
            }
            (None, None) => {}
        }
        let started = Instant::now();
        let mut response = match self.send(upstream_req).await {
            Ok(r) => r,
            Err(e) => return self.unreachable(e, started).await,
        };
        let (recorded, removed) = headers::recorded(response.headers());
        let status = response.status();
        let content_encoding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.eq_ignore_ascii_case("identity"))
            .map(str::to_owned);
        self.rec
            .record(MaskedJson::from(Payload::HttpResponse(HttpResponse {
                status: status.as_u16(),
                headers: recorded,
                removed,
                duration_ms: started.elapsed().as_millis() as u64,
                error: None,
            })))
            .await;
        if let (Some(encoding), Some(_)) = (&content_encoding, &self.client_masker) {
            let message = format!(
                "resource \"{}\" answered with an encoded ({encoding}) body, which Ward cannot mask for this grant (mask_client)",
                self.resource.name
            );
            return ward_error(StatusCode::BAD_GATEWAY, "unmaskable", &message);
        }
        let mut headers = std::mem::take(response.headers_mut());
        headers::strip_hop_by_hop(&mut headers);
        if self.client_masker.is_some() {
            headers.remove(header::CONTENT_LENGTH);
        }
        if let Some(location) = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| headers::location_through_ward(l, &self.resource))
            .and_then(|l| HeaderValue::from_str(&l).ok())
        {
            headers.insert(header::LOCATION, location);
        }
        if let Some(client_upgrade) = client_upgrade
            && status == StatusCode::SWITCHING_PROTOCOLS
        {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            let stop = conn.gw.shutdown.clone();
            let relay = tokio::spawn(self.clone().relay_websocket(
                client_upgrade,
                upstream_upgrade,
                stop,
            ));
            if let Ok(mut relays) = conn.relays.lock() {
                relays.push(relay);
            }
            let mut answer = Response::new(Piped::empty());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            return answer;
        }
        let sse = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        // An encoded answer cannot be read: its body is hashed, not stored, and no completion.
        let answer = ai.filter(|_| content_encoding.is_none()).map(|endpoint| {
            let limit = usize::try_from(self.max_message).unwrap_or(usize::MAX);
            (ai::Answer::new(endpoint, sse, limit), status.is_success())
        });
        let (feed, body) = Piped::channel();
        tokio::spawn(self.clone().pump_response(
            response.into_body(),
            feed,
            content_encoding.is_some(),
            answer,
        ));
        let mut answer = Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        answer
    }

    /// The request as it goes upstream: Ward's credentials in place of the client's, the
    /// hop's own headers dropped, bodies unencoded (so Ward can mask them).
    fn upstream_request(
        &self,
        parts: hyper::http::request::Parts,
        rest: &str,
        query: Option<&str>,
        conn: &Conn,
    ) -> Result<(Request<Piped>, Feed), String> {
        let resource = &self.resource;
        let websocket = is_websocket(&parts.headers);
        let mut headers = parts.headers;
        headers::strip_hop_by_hop(&mut headers);
        headers::strip_ward_cookies(&mut headers);
        for name in [
            header::AUTHORIZATION.as_str(),
            "x-api-key",
            "dpop",
            headers::REASON,
            "sec-websocket-extensions",
            "forwarded",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "x-forwarded-prefix",
        ] {
            headers.remove(name);
        }
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if let Some(host) = headers::upstream_host(resource) {
            headers.insert(header::HOST, host);
        }
        if websocket {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        if let Ok(v) = HeaderValue::from_str(&conn.peer.ip().to_string()) {
            headers.insert("x-forwarded-for", v);
        }
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        if let Ok(v) = HeaderValue::from_str(&format!("/{}", resource.name)) {
            headers.insert("x-forwarded-prefix", v);
        }
        let secret = self.upstream_password.as_ref();
        headers::inject_credential(&mut headers, resource, &self.upstream_user, secret);
        let mut path = format!("{}{rest}", resource.base_path);
        if path.is_empty() {
            path.push('/');
        }
        if let Some(q) = query {
            path.push('?');
            path.push_str(q);
        }
        let uri = path
            .parse()
            .map_err(|e| format!("the path `{path}` cannot go upstream: {e}"))?;
        let (feed, body) = Piped::channel();
        let mut request = Request::new(body);
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok((request, feed))
    }

    /// Sends `req` on the session's connection to the resource, opening it if needed.
    async fn send(&self, req: Request<Piped>) -> Result<Response<Incoming>, String> {
        let mut upstream = self.upstream.lock().await;
        let usable = match upstream.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            *upstream = Some(crate::upstream::connect(&self.resource).await?);
        }
        let Some(sender) = upstream.as_mut() else {
            return Err("no connection".into());
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let sent = sender.send_request(req);
        drop(upstream);
        sent.await.map_err(|e| e.to_string())
    }

    /// The resource could not answer: recorded, and a 502 for the client.
    async fn unreachable(&self, error: String, started: Instant) -> Response<Piped> {
        let name = &self.resource.name;
        let message = format!("Ward could not reach resource \"{name}\": {error}");
        self.rec
            .record(JsonBody::from(Payload::HttpResponse(HttpResponse {
                status: StatusCode::BAD_GATEWAY.as_u16(),
                duration_ms: started.elapsed().as_millis() as u64,
                error: Some(message.clone()),
                ..HttpResponse::default()
            })))
            .await;
        ward_error(StatusCode::BAD_GATEWAY, "upstream", &message)
    }

    /// Reads a prompt to an AI model whole: records its body and its conversation
    /// (`ai.prompt`), refuses it when it carries a secret a guardrail names, and masks it for
    /// the provider when the grant says `mask_upstream`. The body to send upstream.
    async fn read_prompt(
        &self,
        endpoint: ai::Endpoint,
        incoming: Incoming,
        line: &str,
    ) -> Result<Bytes, Response<Piped>> {
        let limit = usize::try_from(self.max_message).unwrap_or(usize::MAX);
        let bytes = match http_body_util::Limited::new(incoming, limit)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let message = format!(
                    "the prompt could not be read whole (at most [recording] max_message_bytes = {limit} bytes): {e}"
                );
                return Err(ward_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    &message,
                ));
            }
        };
        self.bytes_up
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let mut stream = self.body_record(request_chunk);
        stream.record(&self.rec, &bytes, true, Some(self.cap)).await;
        self.body_done(stream);
        let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            // Not JSON: the provider answers it; the body is recorded.
            return Ok(bytes);
        };
        let mut prompt = ai::prompt(endpoint, &body);
        // What masking finds in the conversation, for the rules that refuse secrets: only
        // when guardrails apply (the record is masked on the recorder thread anyway).
        let denial = self.guardrails.as_ref().and_then(|g| {
            let mut found = MaskReport::new();
            for m in &prompt.messages {
                self.record_masker.mask_str(&m.text, &mut found);
                for call in &m.tool_calls {
                    self.record_masker.mask_str(&call.arguments, &mut found);
                }
            }
            g.check_prompt(|rule| found.count(rule))
        });
        if let Some(denial) = denial {
            self.rec
                .record(MaskedJson::from(Payload::AiPrompt(prompt)))
                .await;
            let denied = PolicyDenied {
                rule: Some(denial.rule.clone()),
                reason: Some(denial.code().to_owned()),
                protocol: Some("http".into()),
                message: Some(denial.request_message()),
                command: Some(line.to_owned()),
                ..PolicyDenied::default()
            };
            return Err(self.deny(StatusCode::FORBIDDEN, "denied", denied).await);
        }
        let sent = if self.mask_upstream {
            ai::mask_request(&mut body, &self.record_masker, &mut MaskReport::new());
            prompt.masked_upstream = true;
            Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
        } else {
            bytes
        };
        self.rec
            .record(MaskedJson::from(Payload::AiPrompt(prompt)))
            .await;
        Ok(sent)
    }

    /// Relays the client's body upstream, recording it as it passes.
    async fn pump_request(self: Arc<Self>, mut incoming: Incoming, feed: Feed) {
        // Made at the first byte: most requests have no body.
        let mut stream: Option<StreamRecord> = None;
        while let Some(frame) = incoming.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    let _ = feed.send(Err(Aborted(e.to_string()))).await;
                    break;
                }
            };
            if let Some(data) = frame.data_ref().filter(|d| !d.is_empty()) {
                self.bytes_up
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                let stream = stream.get_or_insert_with(|| self.body_record(request_chunk));
                stream.record(&self.rec, data, false, Some(self.cap)).await;
            }
            if feed.send(Ok(frame)).await.is_err() {
                break;
            }
        }
        if let Some(mut stream) = stream {
            stream.record(&self.rec, &[], true, None).await;
            self.body_done(stream);
        }
    }

    /// Relays the resource's body to the client, recording it first (an encoded body, which
    /// cannot be masked, is counted and hashed, not stored) and masking it for the client
    /// when the grant says `mask_client`.
    async fn pump_response(
        self: Arc<Self>,
        mut incoming: Incoming,
        feed: Feed,
        encoded: bool,
        mut answer: Option<(ai::Answer, bool)>,
    ) {
        let mut stream = self.body_record(response_chunk);
        let cap = if encoded { 0 } else { self.cap };
        let mut client = self.client_masker.as_ref().map(Masker::stream);
        let mut ended = self.terminated.clone();
        loop {
            let frame = tokio::select! {
                frame = incoming.frame() => frame,
                _ = terminated(&mut ended) => {
                    let _ = feed.send(Err(Aborted("the session was terminated".into()))).await;
                    break;
                }
            };
            let Some(frame) = frame else {
                if let Some(m) = client.as_mut() {
                    let rest = m.finish();
                    if !rest.is_empty() {
                        let _ = feed.send(Ok(Frame::data(Bytes::from(rest)))).await;
                    }
                }
                break;
            };
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    let _ = feed.send(Err(Aborted(e.to_string()))).await;
                    break;
                }
            };
            let frame = match frame.into_data() {
                Ok(data) => {
                    self.bytes_down
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    stream.record(&self.rec, &data, false, Some(cap)).await;
                    if let Some((a, _)) = answer.as_mut() {
                        a.push(&data);
                    }
                    if !self.rec.may_release().await {
                        let _ = feed
                            .send(Err(Aborted("the audit store cannot be written".into())))
                            .await;
                        break;
                    }
                    match client.as_mut() {
                        Some(m) => Frame::data(Bytes::from(m.push(&data))),
                        None => Frame::data(data),
                    }
                }
                Err(trailers) => trailers,
            };
            if feed.send(Ok(frame)).await.is_err() {
                break;
            }
        }
        stream.record(&self.rec, &[], true, None).await;
        self.body_done(stream);
        if let Some(completion) = answer.and_then(|(a, ok)| a.finish(ok)) {
            self.rec
                .record(MaskedJson::from(Payload::AiCompletion(completion)))
                .await;
        }
    }
}
