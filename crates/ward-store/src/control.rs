//! What lets one Ward end another's sessions: users disabled (`ward users disable`), whom every
//! Ward of the store refuses and whose open sessions it ends, sessions someone asked to end
//! (`ward sessions terminate`), which the Ward serving each ends, and Ward credentials revoked,
//! whose sessions end. Each Ward reads both every
//! half second; the ending itself is recorded in the session's own chain.

use serde::Serialize;
use ward_core::{SessionId, Timestamp};

use crate::credentials::{Credential, CredentialFilter};
use crate::db::params;
use crate::store::{Store, StoreError};

/// A user disabled: by whom, when and why.
#[derive(Debug, Clone, Serialize)]
pub struct Disabled {
    pub name: String,
    #[serde(serialize_with = "crate::credentials::rfc3339")]
    pub at: Timestamp,
    pub by: String,
    pub reason: String,
}

/// A login through an OIDC issuer, which Ward checks again with its refresh token.
#[derive(Debug, Clone)]
pub struct IdpLogin {
    /// The Ward token issued at the login.
    pub credential: String,
    /// The issuer's name in the configuration.
    pub issuer: String,
    pub refresh_token: String,
}

/// A session someone asked to end.
#[derive(Debug, Clone)]
pub struct TerminationRequest {
    pub session: SessionId,
    pub by: String,
    pub reason: String,
}

impl Store {
    /// Disables `name` (a local user, or any identity's subject): every Ward of this store
    /// refuses it from now on and ends its open sessions, and its Ward credentials are revoked
    /// (returned). Disabling a disabled user again keeps the first record.
    pub fn disable_user(
        &mut self,
        name: &str,
        by: &str,
        reason: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        self.db.execute(
            "INSERT INTO disabled_users (name, disabled_at, disabled_by, reason) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO NOTHING",
            &params![name, Timestamp::now().0, by, reason],
        )?;
        let filter = CredentialFilter {
            subject: Some(name),
            ..Default::default()
        };
        self.revoke_credentials(&filter, by)
    }

    /// Enables `name` again; false if it was not disabled. Its revoked credentials stay revoked.
    pub fn enable_user(&mut self, name: &str) -> Result<bool, StoreError> {
        let removed = self
            .db
            .execute("DELETE FROM disabled_users WHERE name = ?1", &params![name])?;
        Ok(removed > 0)
    }

    /// The users disabled now.
    pub fn disabled_users(&mut self) -> Result<Vec<Disabled>, StoreError> {
        self.db
            .query(
                "SELECT name, disabled_at, disabled_by, reason FROM disabled_users ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(Disabled {
                    name: r.text(0)?,
                    at: Timestamp(r.int(1)?),
                    by: r.text(2)?,
                    reason: r.text(3)?,
                })
            })
            .collect()
    }

    /// Asks the Ward serving session `id` (a full id or a unique prefix) to end it; returns the
    /// session's id. Asking again for the same session keeps the first request.
    pub fn request_termination(
        &mut self,
        id: &str,
        by: &str,
        reason: &str,
    ) -> Result<SessionId, StoreError> {
        let session = self.resolve_session(id)?;
        self.db.execute(
            "INSERT INTO terminations (session_id, requested_at, requested_by, reason) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (session_id) DO NOTHING",
            &params![session.0.as_bytes().as_slice(), Timestamp::now().0, by, reason],
        )?;
        Ok(session)
    }

    /// The Ward credentials (tokens, service-account keys) revoked at or after `since`: each
    /// one's id and who revoked it.
    pub fn revocations_since(
        &mut self,
        since: Timestamp,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.db
            .query(
                "SELECT credential_id, revoked_by FROM credential_revocations WHERE revoked_at >= ?1",
                &params![since.0],
            )?
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
    }

    /// Remembers a login's refresh token, to check with the issuer at `check_at`.
    pub fn remember_login(
        &mut self,
        login: &IdpLogin,
        check_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO idp_logins (credential_id, issuer, refresh_token, check_at, groups) VALUES (?1, ?2, ?3, ?4, NULL)",
            &params![&login.credential, &login.issuer, &login.refresh_token, check_at.0],
        )?;
        Ok(())
    }

    /// The logins due for a check at `now` whose Ward token is still usable (others are
    /// forgotten).
    pub fn logins_due(&mut self, now: Timestamp) -> Result<Vec<IdpLogin>, StoreError> {
        self.db.execute(
            "DELETE FROM idp_logins WHERE credential_id IN (SELECT credential_id FROM credential_revocations)
             OR credential_id IN (SELECT id FROM credentials WHERE expires_at <= ?1)",
            &params![now.0],
        )?;
        self.db
            .query(
                "SELECT credential_id, issuer, refresh_token FROM idp_logins WHERE check_at <= ?1",
                &params![now.0],
            )?
            .iter()
            .map(|r| {
                Ok(IdpLogin {
                    credential: r.text(0)?,
                    issuer: r.text(1)?,
                    refresh_token: r.text(2)?,
                })
            })
            .collect()
    }

    /// Records a check of `login`: its new refresh token, the groups the issuer gives now
    /// (none: the check failed, the groups stay), and when to check next.
    pub fn checked_login(
        &mut self,
        login: &IdpLogin,
        groups: Option<&[String]>,
        next: Timestamp,
    ) -> Result<(), StoreError> {
        let groups = groups
            .map(|g| serde_json::to_string(g).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?;
        self.db.execute(
            "UPDATE idp_logins SET refresh_token = ?2, check_at = ?3, groups = COALESCE(?4, groups) WHERE credential_id = ?1",
            &params![&login.credential, &login.refresh_token, next.0, groups.as_deref()],
        )?;
        Ok(())
    }

    /// The groups issuers gave at their last check, by Ward token, for the logins checked.
    pub fn login_groups(
        &mut self,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
        self.db
            .query(
                "SELECT credential_id, groups FROM idp_logins WHERE groups IS NOT NULL",
                &[],
            )?
            .iter()
            .map(|r| {
                let groups = serde_json::from_str(&r.text(1)?)
                    .map_err(|e| StoreError::Corrupt(format!("login groups: {e}")))?;
                Ok((r.text(0)?, groups))
            })
            .collect()
    }

    /// The terminations asked for at or after `since`.
    pub fn terminations_since(
        &mut self,
        since: Timestamp,
    ) -> Result<Vec<TerminationRequest>, StoreError> {
        self.db
            .query(
                "SELECT session_id, requested_by, reason FROM terminations WHERE requested_at >= ?1",
                &params![since.0],
            )?
            .iter()
            .map(|r| {
                Ok(TerminationRequest {
                    session: crate::query::session_id(&r.bytes(0)?)?,
                    by: r.text(1)?,
                    reason: r.text(2)?,
                })
            })
            .collect()
    }
}
