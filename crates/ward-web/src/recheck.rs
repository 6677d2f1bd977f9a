//! Checking logins again with their issuer. A Ward token issued at an OIDC login lives for
//! `[auth] token_ttl`; the issuer may meanwhile disable the person or change their groups. When
//! the issuer's own token expires (at most every `recheck` of the issuer), Ward refreshes the
//! login with the refresh token the issuer gave: a refusal revokes the Ward token (its sessions
//! end on every Ward of the store), and new groups become the token's groups (a session they no
//! longer grant ends). Checks that fail for another reason (the issuer unreachable) are tried
//! again a little later, and the token keeps working meanwhile.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use ward_auth::{Audience, OidcError};
use ward_core::Timestamp;
use ward_store::control::IdpLogin;
use ward_store::credentials::CredentialFilter;

use super::Web;

/// How often Ward looks for logins due for a check.
const POLL: Duration = Duration::from_secs(1);
/// How long after a check that could not be made Ward tries again.
const RETRY: Duration = Duration::from_secs(30);

/// When to check a login next: when the issuer's token expires, at most after `recheck`.
pub fn next_check(recheck: Duration, expires_in: Option<u64>) -> Timestamp {
    let wait = expires_in
        .map(Duration::from_secs)
        .map_or(recheck, |e| e.min(recheck));
    let nanos = i64::try_from(wait.as_nanos()).unwrap_or(i64::MAX);
    Timestamp(Timestamp::now().0.saturating_add(nanos))
}

/// What a check found.
enum Checked {
    /// The issuer still vouches for the person: with these groups, and this refresh token.
    Vouches {
        groups: Vec<String>,
        refresh_token: String,
        expires_in: Option<u64>,
    },
    /// The issuer refuses: why.
    Refuses(String),
    /// The check could not be made.
    Failed(String),
}

impl Web {
    /// Checks `login` with its issuer.
    async fn check(&self, login: &IdpLogin) -> Checked {
        let issuer = match self.oidc.by_name(Some(&login.issuer)) {
            Ok(issuer) => issuer.clone(),
            Err(_) => {
                return Checked::Refuses(format!(
                    "issuer {} is no longer configured",
                    login.issuer
                ));
            }
        };
        let tokens = match issuer.refresh(&login.refresh_token).await {
            Ok(tokens) => tokens,
            Err(OidcError::Refused {
                error, description, ..
            }) => {
                return Checked::Refuses(match description {
                    Some(d) => format!("{error}: {d}"),
                    None => error,
                });
            }
            Err(e) => return Checked::Failed(e.to_string()),
        };
        let Some(id_token) = tokens.id_token else {
            return Checked::Failed("the issuer returned no ID token".into());
        };
        match issuer.validate(&id_token, Audience::ClientId, None).await {
            Ok(v) => Checked::Vouches {
                groups: v.groups,
                refresh_token: tokens
                    .refresh_token
                    .unwrap_or_else(|| login.refresh_token.clone()),
                expires_in: tokens.expires_in,
            },
            Err(e) => Checked::Refuses(format!("ID token rejected: {e}")),
        }
    }

    /// Checks every login due now.
    async fn recheck_due(&self) -> Result<(), ward_store::StoreError> {
        let due = self.store_blocking(|s| s.logins_due(Timestamp::now()))?;
        for login in due {
            let recheck = self
                .oidc
                .by_name(Some(&login.issuer))
                .map_or(RETRY, |i| i.recheck());
            match self.check(&login).await {
                Checked::Vouches {
                    groups,
                    refresh_token,
                    expires_in,
                } => {
                    let login = IdpLogin {
                        refresh_token,
                        ..login
                    };
                    let next = next_check(recheck, expires_in);
                    self.store_blocking(|s| s.checked_login(&login, Some(&groups), next))?;
                }
                Checked::Refuses(why) => {
                    tracing::info!(credential = %login.credential, issuer = %login.issuer, %why, "the issuer no longer vouches for a login: its Ward token is revoked");
                    let by = format!("the identity provider {} ({why})", login.issuer);
                    let filter = CredentialFilter {
                        id: Some(&login.credential),
                        ..CredentialFilter::default()
                    };
                    self.store_blocking(|s| s.revoke_credentials(&filter, &by).map(|_| ()))?;
                }
                Checked::Failed(why) => {
                    tracing::warn!(credential = %login.credential, issuer = %login.issuer, %why, "could not check a login with its issuer; trying again");
                    let next = next_check(RETRY, None);
                    self.store_blocking(|s| s.checked_login(&login, None, next))?;
                }
            }
        }
        Ok(())
    }
}

/// Checks logins again until `stop`.
pub async fn run(web: Arc<Web>, mut stop: watch::Receiver<bool>) {
    if web.oidc.is_empty() {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = web.recheck_due().await {
            tracing::warn!(error = %e, "could not check logins with their issuers; trying again");
        }
    }
}
