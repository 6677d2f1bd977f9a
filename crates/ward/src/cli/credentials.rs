//! Administration of Ward's own credentials, on the store: `ward tokens list|revoke` and
//! `ward service-accounts create|list|revoke`.

use std::io::Write;

use anyhow::bail;
use ward_store::Store;
use ward_store::credentials::{Credential, CredentialFilter, CredentialKind, NewCredential};

/// Prints credentials as a table or JSON.
pub fn print(credentials: &[Credential], json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, credentials)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<16} {:<24} {:<31} STATE",
        "ID", "SUBJECT", "GROUPS", "EXPIRES"
    )?;
    let now = ward_core::Timestamp::now();
    for c in credentials {
        let state = match (c.revoked_at, c.expires_at) {
            (Some(at), _) => format!("revoked {at}"),
            (None, Some(at)) if at <= now => "expired".to_owned(),
            _ => "active".to_owned(),
        };
        writeln!(
            out,
            "{:<20} {:<16} {:<24} {:<31} {state}",
            c.id,
            c.subject,
            c.groups.join(","),
            c.expires_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into()),
        )?;
    }
    Ok(())
}

/// `ward tokens list`.
pub fn list_tokens(
    store: &mut Store,
    user: Option<&str>,
    all: bool,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let filter = CredentialFilter {
        kind: Some(CredentialKind::Token),
        subject: user,
        usable_only: !all,
        ..CredentialFilter::default()
    };
    print(&store.credentials(&filter)?, json, out)
}

/// `ward tokens issue USER`: a token issued by an administrator rather than a login.
pub fn issue_token(
    store: &mut Store,
    user: &str,
    groups: Option<Vec<String>>,
    (ttl, key): (std::time::Duration, Option<String>),
    out: &mut impl Write,
) -> anyhow::Result<()> {
    check_thumbprint(key.as_deref())?;
    if user.is_empty() || user.contains(char::is_whitespace) {
        bail!("user name `{user}` must be non-empty and contain no spaces");
    }
    let groups = match groups {
        Some(g) => g,
        None => match store.user(user)? {
            Some(u) => u.groups,
            None => bail!("`{user}` is not a local user: give its groups with --groups"),
        },
    };
    let ttl = i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX);
    let new = NewCredential {
        kind: CredentialKind::Token,
        subject: user.to_owned(),
        groups,
        issuer: "local".into(),
        method: "admin".into(),
        expires_at: Some(ward_core::Timestamp(
            ward_core::Timestamp::now().0.saturating_add(ttl),
        )),
        key,
    };
    let (c, token) = store.issue_credential(&new)?;
    let bound = c
        .key
        .as_ref()
        .map(|k| format!(", bound to key {k} (DPoP)"))
        .unwrap_or_default();
    writeln!(
        out,
        "token {} for {user} (groups: {}) until {}{bound}; shown only now:",
        c.id,
        c.groups.join(", "),
        c.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default()
    )?;
    writeln!(out, "{token}")?;
    Ok(())
}

/// `ward tokens revoke --user U | --id ID`: revokes at once, on every Ward sharing the store.
pub fn revoke_tokens(
    store: &mut Store,
    user: Option<&str>,
    id: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let filter = CredentialFilter {
        kind: Some(CredentialKind::Token),
        subject: user,
        id,
        ..CredentialFilter::default()
    };
    let revoked = store.revoke_credentials(&filter, &admin())?;
    if revoked.is_empty() {
        bail!("no active token matches");
    }
    for c in &revoked {
        writeln!(out, "revoked token {} of {}", c.id, c.subject)?;
    }
    Ok(())
}

/// `ward service-accounts create NAME --groups a,b`: prints the key, once.
pub fn create_service_account(
    store: &mut Store,
    name: &str,
    (groups, jkt): (&[String], Option<String>),
    out: &mut impl Write,
) -> anyhow::Result<()> {
    check_thumbprint(jkt.as_deref())?;
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ':') {
        bail!("service account name `{name}` must be non-empty, without spaces or `:`");
    }
    if store.user(name)?.is_some() {
        bail!("`{name}` is a local user: give the service account another name");
    }
    let existing = store.credentials(&CredentialFilter {
        kind: Some(CredentialKind::ServiceAccount),
        subject: Some(name),
        usable_only: true,
        ..CredentialFilter::default()
    })?;
    if let Some(c) = existing.first() {
        bail!(
            "service account `{name}` already has an active key ({}): revoke it first with `ward service-accounts revoke {name}`",
            c.id
        );
    }
    let groups: Vec<String> = groups
        .iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect();
    let new = NewCredential {
        kind: CredentialKind::ServiceAccount,
        subject: name.to_owned(),
        groups,
        issuer: "local".into(),
        method: "admin".into(),
        expires_at: None,
        key: jkt,
    };
    let (c, key) = store.issue_credential(&new)?;
    writeln!(
        out,
        "service account {name} created (key {}, groups: {})",
        c.id,
        if c.groups.is_empty() {
            "none".to_owned()
        } else {
            c.groups.join(", ")
        }
    )?;
    writeln!(
        out,
        "API key (shown only now; use it as the password of user {name}):"
    )?;
    writeln!(out, "{key}")?;
    Ok(())
}

/// `ward service-accounts list`.
pub fn list_service_accounts(
    store: &mut Store,
    all: bool,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let filter = CredentialFilter {
        kind: Some(CredentialKind::ServiceAccount),
        usable_only: !all,
        ..CredentialFilter::default()
    };
    print(&store.credentials(&filter)?, json, out)
}

/// `ward service-accounts revoke NAME`.
pub fn revoke_service_account(
    store: &mut Store,
    name: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let filter = CredentialFilter {
        kind: Some(CredentialKind::ServiceAccount),
        subject: Some(name),
        ..CredentialFilter::default()
    };
    let revoked = store.revoke_credentials(&filter, &admin())?;
    if revoked.is_empty() {
        bail!("service account `{name}` has no active key");
    }
    for c in &revoked {
        writeln!(out, "revoked key {} of service account {name}", c.id)?;
    }
    Ok(())
}

/// Who runs an administrative command, for the revocation record.
fn admin() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("admin:{user}")
}

/// A JWK SHA-256 thumbprint (43 base64url characters), if one is given.
fn check_thumbprint(jkt: Option<&str>) -> anyhow::Result<()> {
    if let Some(jkt) = jkt
        && (jkt.len() != 43
            || !jkt
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        bail!("--dpop-jkt `{jkt}` is not a JWK SHA-256 thumbprint (43 base64url characters)");
    }
    Ok(())
}
