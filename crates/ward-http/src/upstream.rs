//! Ward's connection to an HTTP resource: TCP, TLS as the resource says, HTTP/1.1.

use std::sync::Arc;
use std::time::Duration;

use http_body::Body;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use ward_config::Resource;

use crate::body::Piped;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection to `resource`; what went wrong, for the client, when it cannot.
pub async fn connect(resource: &Resource) -> Result<SendRequest<Piped>, String> {
    let tls = ward_config::tls::for_resource(resource)?;
    ward_core::metrics::connecting("http", open(&resource.address, tls)).await
}

/// Opens an HTTP/1.1 connection to `address`, with TLS as `tls` says (a configuration and the
/// name the server's certificate must carry), for requests with bodies of type `B`.
pub async fn open<B>(
    address: &str,
    tls: Option<(rustls::ClientConfig, ServerName<'static>)>,
) -> Result<SendRequest<B>, String>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connecting = async {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        match tls {
            None => handshake(tcp).await,
            Some((mut config, name)) => {
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {address}: {e}"))?;
                handshake(tls).await
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| format!("connecting to {address} took longer than {CONNECT_TIMEOUT:?}"))?
}

async fn handshake<T, B>(io: T) -> Result<SendRequest<B>, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "HTTP upstream connection ended with an error");
        }
    });
    Ok(sender)
}
