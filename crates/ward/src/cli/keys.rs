//! `ward keys show | rotate | init`: the checkpoint signing keys, and every key Ward makes on
//! first start.

use std::io::Write;

use anyhow::{Context, bail};
use serde_json::json;
use ward_config::Config;
use ward_core::Timestamp;
use ward_store::KeySource;
use ward_store::keys::{self, SigningKey};

use crate::serve::{key_source, open_store};

/// `ward keys init`: makes every key Ward would make on its first start (the checkpoint
/// signing key, the masking key, the TLS certificate, the SSH keys), keeping those that exist,
/// and prints their public halves: for replicas that must share them, and for a Kubernetes
/// Secret or a Compose volume to hold them.
pub fn init(config: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    let signing = key_source(config).load()?;
    writeln!(out, "checkpoint signing key: {}", signing.public())?;
    crate::serve::masking(config)?;
    writeln!(
        out,
        "masking key: {}",
        config.store.path.with_file_name("mask.key").display()
    )?;
    let (_, fingerprint) = crate::tls::server_config(&config.tls)?;
    writeln!(
        out,
        "TLS certificate: {} ({fingerprint})",
        config.tls.cert.display()
    )?;
    for which in crate::serve::SshKey::ALL {
        let key = which.load(config)?;
        writeln!(
            out,
            "SSH {which:?} key: {} ({})",
            which.path(config).display(),
            key.public_key().to_openssh()?
        )?;
    }
    Ok(())
}

/// Prints the current public key, its fingerprint, and every key the store knows.
pub fn show(config: &Config, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let mut store = open_store(config)?;
    let source = key_source(config);
    let current = source.public_if_present()?;
    let known = store.keys()?;
    if json {
        let list: Vec<_> = known
            .iter()
            .map(|k| {
                json!({
                    "public_key": k.key.to_string(),
                    "fingerprint": k.key.fingerprint(),
                    "valid_from": Timestamp(k.created_at).to_rfc3339(),
                    "valid_until": k.valid_until.map(|t| Timestamp(t).to_rfc3339()),
                    "endorsed_by": k.endorsed_by.map(|id| keys::fingerprint(&id)),
                })
            })
            .collect();
        let doc = json!({
            "public_key": current.map(|k| k.to_string()),
            "fingerprint": current.map(|k| k.fingerprint()),
            "keys": list,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    match current {
        Some(key) => {
            writeln!(out, "public key:  {key}")?;
            writeln!(out, "fingerprint: {}", key.fingerprint())?;
        }
        None => writeln!(
            out,
            "no signing key yet ({source:?}): `ward serve` creates it on first start"
        )?,
    }
    writeln!(out, "keys in the store:")?;
    for k in &known {
        let until = k
            .valid_until
            .map_or("now".to_owned(), |t| Timestamp(t).to_rfc3339());
        let endorsed = k.endorsed_by.map_or(String::new(), |id| {
            format!(", endorsed by {}", keys::fingerprint(&id))
        });
        writeln!(
            out,
            "  {}  {}  {} .. {until}{endorsed}",
            k.key.fingerprint(),
            k.key,
            Timestamp(k.created_at).to_rfc3339()
        )?;
    }
    Ok(())
}

/// Starts a new signing key, endorsed by the current one. A running `ward serve` picks it up
/// before its next checkpoint.
pub fn rotate(config: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    let KeySource::File(path) = key_source(config) else {
        bail!(
            "the signing key comes from the environment ([evidence] signing_key_env); rotate it where it is managed"
        );
    };
    let mut store = open_store(config)?;
    let (old, _) = SigningKey::load_or_create(&path)?;
    store.register_key(&old.public(), Timestamp::now().0, None)?;
    let new = SigningKey::generate()?;
    let created_at = Timestamp::now().0;
    let endorsement = old.endorse(&new.public(), created_at);
    // The store learns the key (with its endorsement) before the file changes, so a running
    // recorder that reloads the file finds it registered.
    store.register_key(
        &new.public(),
        created_at,
        Some((&old.public(), &endorsement)),
    )?;
    new.save(&path)
        .with_context(|| format!("writing the new key to {}", path.display()))?;
    writeln!(
        out,
        "retired:     {} ({})",
        old.public(),
        old.public().fingerprint()
    )?;
    writeln!(out, "new key:     {}", new.public())?;
    writeln!(out, "fingerprint: {}", new.public().fingerprint())?;
    writeln!(
        out,
        "The old key signed the new one: `ward verify --key {}` still checks everything.",
        old.public()
    )?;
    Ok(())
}
