//! `ward users add` and `ward users list`.

use std::io::{BufRead, Write};

use anyhow::bail;
use ward_audit::Store;

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
    store.put_user(name, &groups, &crate::users::hash_password(password)?)?;
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
