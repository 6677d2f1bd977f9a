//! Ward's SSH keys: its host key (what clients pin) and its client key (what hosts authorize),
//! Ed25519, in OpenSSH format, created on first start (mode 0600, with a `.pub` beside).

use std::path::Path;

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PublicKey};

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
