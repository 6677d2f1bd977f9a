//! `ward connect http`: a loopback HTTP proxy on the user's machine that sends each request on
//! to one HTTP resource through Ward with the user's Ward token, and, when the token is bound
//! to a key (`ward login --dpop`), with a fresh DPoP proof for that request. Any client (curl,
//! an SDK, a browser) then reaches the resource at `http://127.0.0.1:PORT/` without holding the
//! token or knowing DPoP; the key never leaves the `ward` process.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Either;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use ward_auth::dpop::Key;

use crate::body::Piped;

/// Where and as whom the proxy sends requests on.
pub struct Target {
    /// Ward's HTTP listener, `host:port`, as its certificate names the host.
    pub address: String,
    /// The TLS configuration that trusts Ward's certificate, and the name it must carry.
    pub tls: rustls::ClientConfig,
    pub server_name: ServerName<'static>,
    /// The resource every request goes to.
    pub resource: String,
    /// The user's Ward token.
    pub token: String,
    /// The key the token is bound to (DPoP), if it is.
    pub key: Option<Key>,
}

type Answer = Response<Either<Incoming, Piped>>;

/// Serves loopback clients on `listener` until the process ends; each client connection has
/// its own connection to Ward.
pub async fn serve(listener: TcpListener, target: Target) -> std::io::Result<()> {
    let target = Arc::new(target);
    loop {
        let (tcp, _) = listener.accept().await?;
        let target = target.clone();
        tokio::spawn(async move {
            let ward: Arc<Mutex<Option<SendRequest<Incoming>>>> = Arc::default();
            let service = service_fn(move |req| {
                let (target, ward) = (target.clone(), ward.clone());
                async move { Ok::<_, Infallible>(target.relay(&ward, req).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades()
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "local HTTP client connection ended with an error");
            }
        });
    }
}

impl Target {
    /// Sends `req` on through Ward and answers with what Ward answered.
    async fn relay(
        &self,
        ward: &Mutex<Option<SendRequest<Incoming>>>,
        req: Request<Incoming>,
    ) -> Answer {
        match self.send(ward, req).await {
            Ok(answer) => answer,
            Err(why) => {
                let (parts, body) =
                    crate::conn::ward_error(StatusCode::BAD_GATEWAY, "ward_unreachable", &why)
                        .into_parts();
                Response::from_parts(parts, Either::Right(body))
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Incoming>, String> {
        let tls = Some((self.tls.clone(), self.server_name.clone()));
        crate::upstream::open(&self.address, tls).await
    }

    async fn send(
        &self,
        ward: &Mutex<Option<SendRequest<Incoming>>>,
        mut req: Request<Incoming>,
    ) -> Result<Answer, String> {
        let path = format!("/{}{}", self.resource, req.uri().path());
        let target = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        *req.uri_mut() = target.parse().map_err(|e| format!("{target}: {e}"))?;
        let headers = req.headers_mut();
        for name in ["dpop", "proxy-authorization", "proxy-connection"] {
            headers.remove(name);
        }
        let host = HeaderValue::from_str(&self.address).map_err(|e| e.to_string())?;
        headers.insert(header::HOST, host);
        let authorization = match &self.key {
            None => format!("Bearer {}", self.token),
            Some(key) => {
                let url = format!("https://{}{path}", self.address);
                let proof = key.proof(req.method().as_str(), &url, Some(&self.token))?;
                let proof = HeaderValue::from_str(&proof).map_err(|e| e.to_string())?;
                req.headers_mut().insert("dpop", proof);
                format!("DPoP {}", self.token)
            }
        };
        let mut authorization = HeaderValue::from_str(&authorization)
            .map_err(|_| "the saved Ward token is not a header value".to_owned())?;
        authorization.set_sensitive(true);
        req.headers_mut()
            .insert(header::AUTHORIZATION, authorization);
        let upgrade = req
            .headers()
            .contains_key(header::UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));

        let mut ward = ward.lock().await;
        let mut sender = match ward.take() {
            Some(mut s) => match s.ready().await {
                Ok(()) => s,
                Err(_) => self.connect().await?,
            },
            None => self.connect().await?,
        };
        let mut response = sender
            .send_request(req)
            .await
            .map_err(|e| format!("Ward at {}: {e}", self.address))?;
        match upgrade {
            // The connection now carries the upgraded protocol, both ways, untouched.
            Some(client) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                let server = hyper::upgrade::on(&mut response);
                tokio::spawn(async move {
                    if let (Ok(client), Ok(server)) = tokio::join!(client, server) {
                        let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
            _ => *ward = Some(sender),
        }
        // A redirect through Ward comes back through this proxy.
        let prefix = format!("https://{}/{}", self.address, self.resource);
        if let Some(local) = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.strip_prefix(&prefix))
            .map(|rest| if rest.is_empty() { "/" } else { rest })
            .and_then(|rest| HeaderValue::from_str(rest).ok())
        {
            response.headers_mut().insert(header::LOCATION, local);
        }
        Ok(response.map(Either::Left))
    }
}
