//! Ward's server certificate: loaded from the configured files, or generated (self-signed) and
//! saved there on first start.

use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use ward_config::Tls;
use ward_core::fs::write_private;

/// The TLS server configuration and the SHA-256 fingerprint of the leaf certificate.
pub fn server_config(tls: &Tls) -> anyhow::Result<(Arc<rustls::ServerConfig>, String)> {
    match (tls.cert.exists(), tls.key.exists()) {
        (true, true) => {}
        (false, false) => generate(tls)?,
        (true, false) => bail!(
            "TLS certificate {} exists but its key {} does not",
            tls.cert.display(),
            tls.key.display()
        ),
        (false, true) => bail!(
            "TLS key {} exists but its certificate {} does not",
            tls.key.display(),
            tls.cert.display()
        ),
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .with_context(|| format!("reading TLS certificate {}", tls.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .with_context(|| format!("reading TLS key {}", tls.key.display()))?;
    let Some(leaf) = certs.first() else {
        bail!("{}: no certificate in the file", tls.cert.display())
    };
    let fingerprint = fingerprint(leaf);
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "TLS certificate {} and key {} do not fit together",
                tls.cert.display(),
                tls.key.display()
            )
        })?;
    Ok((Arc::new(config), fingerprint))
}

/// `SHA256:aa:bb:…` of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    let hex: Vec<String> = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("SHA256:{}", hex.join(":"))
}

fn generate(tls: &Tls) -> anyhow::Result<()> {
    let (cert_path, key_path) = (tls.cert.as_path(), tls.key.as_path());
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(tls.names.iter().cloned());
    let cert = rcgen::generate_simple_self_signed(names)
        .context("generating a self-signed certificate")?;
    for p in [cert_path, key_path] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    write_private(key_path, cert.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, cert.cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok(())
}
