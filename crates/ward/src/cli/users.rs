//! `ward users add`, `ward users list`, `disable` and `enable`, and the SSH keys of users
//! (`add-key`, `keys`, `remove-key`).

use std::io::{BufRead, Write};

use anyhow::bail;
use ward_store::Store;
use ward_store::control::Disabled;

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

/// A user as `ward users list --json` prints it.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    user: &'a ward_store::users::UserRow,
    disabled: Option<&'a Disabled>,
}

pub fn list(store: &mut Store, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let users = store.users()?;
    let disabled = store.disabled_users()?;
    let of = |name: &str| disabled.iter().find(|d| d.name == name);
    if json {
        let listed: Vec<Listed<'_>> = users
            .iter()
            .map(|user| Listed {
                user,
                disabled: of(&user.name),
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &listed)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<30} {:<25} DISABLED",
        "NAME", "GROUPS", "CREATED"
    )?;
    for u in &users {
        let since = of(&u.name).map(|d| d.at.to_string()).unwrap_or_default();
        writeln!(
            out,
            "{:<20} {:<30} {:<25} {since}",
            u.name,
            u.groups.join(","),
            u.created_at
        )?;
    }
    // Identities from an identity provider are disabled by name without being local users.
    for d in disabled
        .iter()
        .filter(|d| !users.iter().any(|u| u.name == d.name))
    {
        writeln!(
            out,
            "{:<20} {:<30} {:<25} {}",
            d.name, "(not local)", "", d.at
        )?;
    }
    Ok(())
}

/// Who disables users from the command line, as the record and the user's client name them.
const ADMINISTRATOR: &str = "an administrator (ward users disable)";

/// Disables `name`: refused and its open sessions ended by every Ward of the store.
pub fn disable(
    store: &mut Store,
    name: &str,
    reason: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let reason = match reason {
        Some(why) => format!("user \"{name}\" disabled: {why}"),
        None => format!("user \"{name}\" disabled"),
    };
    let revoked = store.disable_user(name, ADMINISTRATOR, &reason)?;
    writeln!(
        out,
        "disabled {name}: {} credential(s) revoked; every Ward of this store refuses {name} and ends their open sessions within a second",
        revoked.len()
    )?;
    Ok(())
}

pub fn enable(store: &mut Store, name: &str, out: &mut impl Write) -> anyhow::Result<()> {
    if !store.enable_user(name)? {
        bail!("{name} is not disabled");
    }
    writeln!(
        out,
        "enabled {name} (credentials revoked when they were disabled stay revoked)"
    )?;
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
