//! Ward's own credentials: the short-lived tokens `ward login` issues and service-account keys.
//!
//! A secret is shown once, when it is issued; the store keeps only its SHA-256 digest (the
//! secret is 256 random bits, so a fast digest is enough). Credentials are insert-only like the
//! audit tables: revoking one adds a row to `credential_revocations`, and every check reads the
//! store, so a revocation takes effect at once on every Ward sharing it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use ward_core::Timestamp;

use crate::db::{Db, P, Row, params};
use crate::store::{Store, StoreError};

/// What a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// Issued by `ward login` to a person, for a few hours.
    Token,
    /// An API key of a service account (automation, AI agents), valid until revoked.
    ServiceAccount,
}

impl CredentialKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::ServiceAccount => "service_account",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "token" => Ok(Self::Token),
            "service_account" => Ok(Self::ServiceAccount),
            other => Err(StoreError::Corrupt(format!(
                "unknown credential kind {other}"
            ))),
        }
    }

    /// The prefix of this kind's secrets, which tells a gateway what it was given.
    pub fn secret_prefix(self) -> &'static str {
        match self {
            Self::Token => "ward_t_",
            Self::ServiceAccount => "ward_sa_",
        }
    }

    /// The kind whose secrets look like `secret`, if any.
    pub fn of_secret(secret: &str) -> Option<Self> {
        [Self::Token, Self::ServiceAccount]
            .into_iter()
            .find(|k| secret.starts_with(k.secret_prefix()))
    }
}

/// A credential to issue.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub kind: CredentialKind,
    pub subject: String,
    pub groups: Vec<String>,
    /// Who vouched for the subject when it was issued (an OIDC issuer URL, or `local`).
    pub issuer: String,
    /// How the subject proved who they are at issue (`oidc`, `password`, `admin`).
    pub method: String,
    /// `None`: valid until revoked.
    pub expires_at: Option<Timestamp>,
    /// The thumbprint of the key the credential is bound to (DPoP): then it is accepted only
    /// with a proof signed by that key.
    pub key: Option<String>,
}

/// A stored credential (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    pub subject: String,
    pub groups: Vec<String>,
    pub issuer: String,
    pub method: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "opt_rfc3339")]
    pub expires_at: Option<Timestamp>,
    #[serde(serialize_with = "opt_rfc3339")]
    pub revoked_at: Option<Timestamp>,
    /// The thumbprint of the key it is bound to (DPoP), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

pub(crate) fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn opt_rfc3339<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

impl Credential {
    /// Why this credential cannot be used at `now`, if it cannot.
    pub fn unusable(&self, now: Timestamp) -> Option<String> {
        if let Some(at) = self.revoked_at {
            return Some(format!("it was revoked at {at}"));
        }
        match self.expires_at {
            Some(at) if at <= now => Some(format!("it expired at {at}")),
            _ => None,
        }
    }
}

/// Which credentials to list or revoke.
#[derive(Debug, Clone, Default)]
pub struct CredentialFilter<'a> {
    pub kind: Option<CredentialKind>,
    pub subject: Option<&'a str>,
    pub id: Option<&'a str>,
    /// Leave out revoked and expired ones.
    pub usable_only: bool,
}

const COLUMNS: &str = "c.id, c.kind, c.subject, c.groups, c.issuer, c.method, c.created_at, c.expires_at, r.revoked_at, k.jkt \
     FROM credentials c LEFT JOIN credential_revocations r ON r.credential_id = c.id \
     LEFT JOIN credential_keys k ON k.credential_id = c.id";

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Store {
    /// Stores a new credential and returns it with its secret, which is not kept.
    pub fn issue_credential(
        &mut self,
        new: &NewCredential,
    ) -> Result<(Credential, String), StoreError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)
            .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
        let secret = format!(
            "{}{}",
            new.kind.secret_prefix(),
            URL_SAFE_NO_PAD.encode(random)
        );
        let digest = digest(&secret);
        // `t_…` or `sa_…`: the secret's prefix without `ward_`, and the digest's first 8 bytes.
        let prefix = new.kind.secret_prefix().trim_start_matches("ward_");
        let id = format!("{prefix}{}", hex::encode(&digest[..8]));
        let groups = serde_json::to_string(&new.groups).unwrap_or_default();
        let created_at = Timestamp::now();
        self.db.execute(
            "INSERT INTO credentials (id, digest, kind, subject, groups, issuer, method, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &params![
                &id,
                &digest,
                new.kind.as_str(),
                &new.subject,
                &groups,
                &new.issuer,
                &new.method,
                created_at.0,
                new.expires_at.map(|t| t.0),
            ],
        )?;
        if let Some(jkt) = &new.key {
            self.db.execute(
                "INSERT INTO credential_keys (credential_id, jkt) VALUES (?1, ?2)",
                &params![&id, jkt],
            )?;
        }
        let credential = Credential {
            id,
            kind: new.kind,
            subject: new.subject.clone(),
            groups: new.groups.clone(),
            issuer: new.issuer.clone(),
            method: new.method.clone(),
            created_at,
            expires_at: new.expires_at,
            revoked_at: None,
            key: new.key.clone(),
        };
        Ok((credential, secret))
    }

    /// The credential whose secret is `secret`, revoked or not.
    pub fn credential_by_secret(&mut self, secret: &str) -> Result<Option<Credential>, StoreError> {
        let digest = digest(secret);
        self.db
            .query_opt(
                &format!("SELECT {COLUMNS} WHERE c.digest = ?1"),
                &params![&digest],
            )?
            .as_ref()
            .map(credential)
            .transpose()
    }

    /// Credentials matching `filter`, oldest first.
    pub fn credentials(
        &mut self,
        filter: &CredentialFilter<'_>,
    ) -> Result<Vec<Credential>, StoreError> {
        select(&mut self.db, filter, Timestamp::now())
    }

    /// Revokes every usable credential matching `filter`; returns those revoked.
    pub fn revoke_credentials(
        &mut self,
        filter: &CredentialFilter<'_>,
        revoked_by: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        let filter = CredentialFilter {
            usable_only: true,
            ..filter.clone()
        };
        let now = Timestamp::now();
        self.db.transaction(|db| {
            let mut revoked = select(db, &filter, now)?;
            for c in &mut revoked {
                db.execute(
                    "INSERT INTO credential_revocations (credential_id, revoked_at, revoked_by) VALUES (?1, ?2, ?3)",
                    &params![&c.id, now.0, revoked_by],
                )?;
                c.revoked_at = Some(now);
            }
            Ok(revoked)
        })
    }
}

fn select(
    db: &mut Db,
    filter: &CredentialFilter<'_>,
    now: Timestamp,
) -> Result<Vec<Credential>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} WHERE 1 = 1");
    let mut args: Vec<P<'_>> = Vec::new();
    if let Some(kind) = filter.kind {
        args.push(P::Text(kind.as_str()));
        sql.push_str(&format!(" AND c.kind = ?{}", args.len()));
    }
    if let Some(subject) = filter.subject {
        args.push(P::Text(subject));
        sql.push_str(&format!(" AND c.subject = ?{}", args.len()));
    }
    if let Some(id) = filter.id {
        args.push(P::Text(id));
        sql.push_str(&format!(" AND c.id = ?{}", args.len()));
    }
    if filter.usable_only {
        args.push(P::Int(now.0));
        sql.push_str(&format!(
            " AND r.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > ?{})",
            args.len()
        ));
    }
    sql.push_str(" ORDER BY c.created_at, c.id");
    db.query(&sql, &args)?.iter().map(credential).collect()
}

fn credential(r: &Row) -> Result<Credential, StoreError> {
    Ok(Credential {
        id: r.text(0)?,
        kind: CredentialKind::parse(&r.text(1)?)?,
        subject: r.text(2)?,
        groups: serde_json::from_str(&r.text(3)?).unwrap_or_default(),
        issuer: r.text(4)?,
        method: r.text(5)?,
        created_at: Timestamp(r.int(6)?),
        expires_at: r.opt_int(7)?.map(Timestamp),
        revoked_at: r.opt_int(8)?.map(Timestamp),
        key: r.opt_text(9)?,
    })
}
