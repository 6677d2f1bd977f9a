//! Ward's SSH keys, Ed25519, in OpenSSH format, created on first start (mode 0600, with a
//! `.pub` beside): its host key (what clients pin), its client key (what hosts authorize), its
//! user CA (signs people's certificates after `ward login`) and its upstream CA (signs its own
//! certificates for hosts that trust it), and the certificates they sign.

use std::path::Path;

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::certificate::{Builder, CertType};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{Certificate, HashAlg, PrivateKey, PublicKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {problem}")]
    Key { path: String, problem: String },
}

fn fail(path: &Path, problem: impl std::fmt::Display) -> KeyError {
    KeyError::Key {
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

/// The key at `path`, or a new one written there (and its public half at `path.pub`).
pub fn load_or_create(path: &Path, comment: &str) -> Result<PrivateKey, KeyError> {
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| fail(path, e))?;
        return PrivateKey::from_openssh(&text).map_err(|e| fail(path, e));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| fail(path, format!("no randomness: {e}")))?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    let text = key.to_openssh(LineEnding::LF).map_err(|e| fail(path, e))?;
    ward_core::fs::write_private(path, text.as_bytes()).map_err(|e| fail(path, e))?;
    let public = key.public_key().to_openssh().map_err(|e| fail(path, e))?;
    let pub_path = path.with_extension("pub");
    std::fs::write(&pub_path, format!("{public}\n")).map_err(|e| fail(&pub_path, e))?;
    tracing::info!(path = %path.display(), fingerprint = %fingerprint(key.public_key()), "generated an SSH key");
    Ok(key)
}

/// `SHA256:…`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A user certificate for `key`, signed by `ca`: valid for login as `principal` during
/// `valid` (Unix seconds, from inclusive, to exclusive), with `key_id` (logged by the host
/// and, for Ward's own user certificates, naming the Ward credential behind it).
pub fn certify(
    ca: &PrivateKey,
    key: &PublicKey,
    principal: &str,
    key_id: &str,
    valid: (u64, u64),
) -> Result<Certificate, russh::keys::ssh_key::Error> {
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|_| russh::keys::ssh_key::Error::Crypto)?;
    let mut serial = [0u8; 8];
    getrandom::fill(&mut serial).map_err(|_| russh::keys::ssh_key::Error::Crypto)?;
    let mut builder = Builder::new(nonce.to_vec(), key.key_data().clone(), valid.0, valid.1)?;
    builder
        .serial(u64::from_be_bytes(serial))?
        .cert_type(CertType::User)?
        .key_id(key_id)?
        .valid_principal(principal)?;
    for extension in ["permit-pty", "permit-port-forwarding"] {
        builder.extension(extension, "")?;
    }
    builder.sign(ca)
}
