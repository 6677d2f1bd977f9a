//! `ward users add`, `ward users list`, and the SSH keys of users (`add-key`, `keys`,
//! `remove-key`).

use std::io::{BufRead, Write};

use anyhow::bail;
use ward_store::Store;

/// Adds (or updates) a local user with a password read from `input`'s first line.
pub fn add(
    store: &mut Store,
    name: &str,
    groups: &[String],
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        bail!("user name `{name}` must be non-empty and contain no spaces");
    }
    let groups: Vec<String> = groups
        .iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect();
    let mut password = String::new();
    input.read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.len() < 8 {
        bail!("the password must have at least 8 characters");
    }
    store.put_user(name, &groups, &ward_auth::users::hash_password(password)?)?;
    writeln!(
        out,
        "user {name} saved (groups: {})",
        if groups.is_empty() {
            "none".to_owned()
        } else {
            groups.join(", ")
        }
    )?;
    Ok(())
}

pub fn list(store: &mut Store, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let users = store.users()?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &users)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{:<20} {:<30} CREATED", "NAME", "GROUPS")?;
    for u in &users {
        writeln!(
            out,
            "{:<20} {:<30} {}",
            u.name,
            u.groups.join(","),
            u.created_at
        )?;
    }
    Ok(())
}

/// Registers the OpenSSH public key in `key` (a `authorized_keys`-style line) for `name`.
pub fn add_key(
    store: &mut Store,
    name: &str,
    key: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if store.user(name)?.is_none() {
        bail!("no local user `{name}`: add it first (ward users add)");
    }
    let line = key
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    let public = ward_ssh::SshPublicKey::from_openssh(line).map_err(|e| {
        anyhow::anyhow!(
            "not an OpenSSH public key ({e}): give a line like `ssh-ed25519 AAAA… comment`"
        )
    })?;
    let fingerprint = ward_ssh::keys::fingerprint(&public);
    store.add_user_key(name, &fingerprint, line)?;
    writeln!(out, "key {fingerprint} added for user {name}")?;
    Ok(())
}

/// Lists the SSH keys of `name` (of everyone with `None`).
pub fn keys(
    store: &mut Store,
    name: Option<&str>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let keys = store.user_keys(name)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &keys)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{:<20} {:<52} ADDED", "USER", "FINGERPRINT")?;
    for k in &keys {
        writeln!(out, "{:<20} {:<52} {}", k.user, k.fingerprint, k.created_at)?;
    }
    Ok(())
}

pub fn remove_key(
    store: &mut Store,
    name: &str,
    fingerprint: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if !store.remove_user_key(name, fingerprint)? {
        bail!("user `{name}` has no key {fingerprint} (ward users keys {name})");
    }
    writeln!(out, "key {fingerprint} of user {name} removed")?;
    Ok(())
}
