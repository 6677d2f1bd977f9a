//! What a client may give as its password, and how each is checked: a Ward token from
//! `ward login`, a service-account key, an OpenID Connect token, or a local user's password.

use std::sync::{Arc, Mutex};

use ward_audit::credentials::{Credential, CredentialKind};
use ward_audit::{Location, Store, StoreError};
use ward_auth::Oidc;
use ward_core::auth::{AuthError, AuthFuture, Authenticator};
use ward_core::{Identity, Timestamp};

use crate::users::LocalUsers;

pub struct Credentials {
    local: Arc<LocalUsers>,
    store: Arc<Mutex<Store>>,
    oidc: Arc<Oidc>,
}

impl Credentials {
    pub fn open(location: &Location, oidc: Arc<Oidc>) -> Result<Self, StoreError> {
        Ok(Self {
            local: Arc::new(LocalUsers::open(location)?),
            store: Arc::new(Mutex::new(Store::open(location)?)),
            oidc,
        })
    }

    /// The identity a Ward token or service-account key stands for, given alone (as an API's
    /// bearer token).
    pub async fn bearer(&self, secret: &str) -> Result<Identity, AuthError> {
        let kind = CredentialKind::of_secret(secret).ok_or(AuthError::Rejected {
            method: "bearer token",
            reason: "not a Ward token or service-account key".into(),
        })?;
        self.ward_credential(kind, None, secret).await
    }

    /// Checks a Ward credential; with `user`, it must have been issued to that user.
    async fn ward_credential(
        &self,
        kind: CredentialKind,
        user: Option<&str>,
        secret: &str,
    ) -> Result<Identity, AuthError> {
        let method = match kind {
            CredentialKind::Token => "Ward token",
            CredentialKind::ServiceAccount => "service-account key",
        };
        let rejected = |reason: String| AuthError::Rejected { method, reason };
        let store = self.store.clone();
        let secret = secret.to_owned();
        let found = tokio::task::spawn_blocking(move || {
            store
                .lock()
                .map_err(|_| AuthError::Unavailable("credential store lock poisoned".into()))?
                .credential_by_secret(&secret)
                .map_err(|e| AuthError::Unavailable(e.to_string()))
        })
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))??;
        let Some(c) = found else {
            return Err(rejected("no such credential".into()));
        };
        if let Some(why) = c.unusable(Timestamp::now()) {
            return Err(rejected(format!("{why}: run `ward login` for a new one")));
        }
        if let Some(user) = user
            && c.subject != user
        {
            return Err(rejected(format!(
                "it was issued to `{}`: connect with that user name",
                c.subject
            )));
        }
        Ok(identity(c))
    }

    async fn oidc_token(&self, user: &str, token: &str) -> Result<Identity, AuthError> {
        let v = self
            .oidc
            .validate(token)
            .await
            .map_err(|e| AuthError::Rejected {
                method: "OIDC token",
                reason: e.to_string(),
            })?;
        if v.username != user {
            return Err(AuthError::Rejected {
                method: "OIDC token",
                reason: format!(
                    "it names user `{}`: connect with that user name",
                    v.username
                ),
            });
        }
        Ok(Identity {
            subject: v.username,
            groups: v.groups,
            method: "oidc".into(),
            issuer: v.issuer,
            credential: Some(v.sub),
        })
    }
}

/// The identity a Ward credential stands for.
fn identity(c: Credential) -> Identity {
    let method = match c.kind {
        CredentialKind::Token => "ward-token",
        CredentialKind::ServiceAccount => "service-account",
    };
    Identity {
        subject: c.subject,
        groups: c.groups,
        method: method.into(),
        issuer: c.issuer,
        credential: Some(c.id),
    }
}

impl Authenticator for Credentials {
    fn authenticate<'a>(&'a self, user: &'a str, secret: &'a str) -> AuthFuture<'a> {
        Box::pin(async move {
            if let Some(kind) = CredentialKind::of_secret(secret) {
                return self.ward_credential(kind, Some(user), secret).await;
            }
            if ward_auth::oidc::looks_like_jwt(secret) {
                if self.oidc.is_empty() {
                    return Err(AuthError::Rejected {
                        method: "OIDC token",
                        reason: "no OpenID Connect issuer is configured".into(),
                    });
                }
                return self.oidc_token(user, secret).await;
            }
            let local = self.local.clone();
            let (user, password) = (user.to_owned(), secret.to_owned());
            tokio::task::spawn_blocking(move || local.verify(&user, &password))
                .await
                .map_err(|e| AuthError::Unavailable(e.to_string()))?
        })
    }
}
