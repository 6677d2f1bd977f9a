//! Ward's connection to an HTTP resource: TCP, TLS as the resource says, HTTP/1.1.

use std::sync::Arc;
use std::time::Duration;

use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use ward_config::Resource;

use crate::body::Piped;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection to `resource`; what went wrong, for the client, when it cannot.
pub async fn connect(resource: &Resource) -> Result<SendRequest<Piped>, String> {
    let address = &resource.address;
    let connecting = async {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        match ward_config::tls::for_resource(resource)? {
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

async fn handshake<T>(io: T) -> Result<SendRequest<Piped>, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
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
