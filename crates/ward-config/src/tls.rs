//! Ward's TLS client side, for the hosts it connects to (resources, a PostgreSQL
//! store): loading PEM roots, and the "encrypt but do not verify" mode (`tls = "require"`).

use std::path::Path;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::UpstreamTls;

/// The system's CA bundle (Debian's), for `verify-full` without a `ca_file`.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The client configuration for `mode`: `None` for plain TCP; for `verify-full`, the chain is
/// checked against `ca_file` (the system roots when absent) and the host name against the
/// certificate.
pub fn client_config(
    mode: UpstreamTls,
    ca_file: Option<&Path>,
) -> Result<Option<rustls::ClientConfig>, String> {
    Ok(Some(match mode {
        UpstreamTls::Disable => return Ok(None),
        UpstreamTls::Require => rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify::new()))
            .with_no_client_auth(),
        UpstreamTls::VerifyFull => {
            let roots = load_roots(ca_file.unwrap_or(Path::new(SYSTEM_ROOTS)))?;
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
    }))
}

/// The TLS client configuration for `resource` (none when its `tls` is `disable`), and the
/// name its certificate must carry (`server_name`, else the host of its address).
pub fn for_resource(
    resource: &crate::Resource,
) -> Result<Option<(rustls::ClientConfig, ServerName<'static>)>, String> {
    let name = resource
        .server_name
        .clone()
        .unwrap_or_else(|| resource.host().to_owned());
    let server_name =
        ServerName::try_from(name.clone()).map_err(|e| format!("server name `{name}`: {e}"))?;
    Ok(client_config(resource.tls, resource.ca_file.as_deref())?.map(|c| (c, server_name)))
}

/// A client configuration that checks a server's chain against `ca_file` (the system roots
/// when absent), and the name `host` that its certificate must carry.
pub fn verify_full(
    host: &str,
    ca_file: Option<&Path>,
) -> Result<(rustls::ClientConfig, ServerName<'static>), String> {
    let config = client_config(UpstreamTls::VerifyFull, ca_file)?
        .ok_or("verify-full always has a TLS configuration")?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| format!("`{host}` is not a server name: {e}"))?;
    Ok((config, name))
}

/// Reads every certificate in a PEM file into a root store.
pub fn load_roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no certificates found", path.display()));
    }
    Ok(roots)
}

/// Accepts any server certificate but still checks handshake signatures: encryption without
/// authentication, as libpq's `sslmode=require`.
#[derive(Debug)]
pub struct NoVerify(Arc<CryptoProvider>);

impl NoVerify {
    pub fn new() -> Self {
        Self(Arc::new(rustls::crypto::ring::default_provider()))
    }
}

impl Default for NoVerify {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
