//! What a client may give as its password, and how each is checked: a Ward token from
//! `ward login`, a service-account key, an OpenID Connect token, or a local user's password.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::Oidc;
use ward_core::auth::{AuthError, AuthFuture, Authenticator, KeyLogin};
use ward_core::login_throttle::LoginThrottle;
use ward_core::{Identity, Timestamp};
use ward_store::credentials::{Credential, CredentialFilter, CredentialKind};
use ward_store::{Location, Store, StoreError};

use crate::users::LocalUsers;

pub struct Credentials {
    local: Arc<LocalUsers>,
    store: Arc<Mutex<Store>>,
    oidc: Arc<Oidc>,
    /// Failed password logins on every listener.
    throttle: LoginThrottle,
    /// The DPoP proofs seen lately (each is good once).
    seen: crate::dpop::Seen,
}

impl Credentials {
    pub fn open(location: &Location, oidc: Arc<Oidc>) -> Result<Self, StoreError> {
        Ok(Self {
            local: Arc::new(LocalUsers::open(location)?),
            store: Arc::new(Mutex::new(Store::open(location)?)),
            oidc,
            throttle: LoginThrottle::default(),
            seen: crate::dpop::Seen::default(),
        })
    }

    /// The store connection credentials are checked on, for other rare lookups (host keys
    /// trusted on first use) to share.
    pub fn store(&self) -> Arc<Mutex<Store>> {
        self.store.clone()
    }

    /// The identity a Ward token or service-account key stands for, given alone (as an API's
    /// bearer token).
    pub async fn bearer(&self, secret: &str) -> Result<Identity, AuthError> {
        let kind = CredentialKind::of_secret(secret).ok_or(AuthError::Rejected {
            method: "bearer token",
            reason: "not a Ward token or service-account key".into(),
        })?;
        self.ward_credential(kind, None, secret, None).await
    }

    /// Like [`Credentials::bearer`], with the DPoP proof the request carried: a credential
    /// bound to a key is accepted only with a valid proof made with that key (RFC 9449).
    pub async fn bearer_proven(
        &self,
        secret: &str,
        proof: &crate::dpop::Proof,
    ) -> Result<Identity, AuthError> {
        let kind = CredentialKind::of_secret(secret).ok_or(AuthError::Rejected {
            method: "DPoP token",
            reason: "not a Ward token or service-account key".into(),
        })?;
        self.ward_credential(kind, None, secret, Some(proof)).await
    }

    /// The Ward token a request to the API carries (`Authorization: Bearer`, or `DPoP` with
    /// `proof`), checked as [`Credentials::bearer_proven`] checks it.
    pub async fn ward_token(
        &self,
        secret: &str,
        proof: Option<&crate::dpop::Proof>,
    ) -> Result<Credential, AuthError> {
        if CredentialKind::of_secret(secret) != Some(CredentialKind::Token) {
            return Err(AuthError::Rejected {
                method: "Ward token",
                reason: "not a Ward token: run `ward login`".into(),
            });
        }
        self.proven(CredentialKind::Token, None, secret, proof)
            .await
    }

    /// The thumbprint of the key a proof for a new credential is signed with (RFC 9449,
    /// section 5): the key the credential is to be bound to.
    pub fn key_to_bind(&self, proof: &crate::dpop::Proof) -> Result<String, AuthError> {
        let now = Timestamp::now().0 / 1_000_000_000;
        crate::dpop::check_new(proof, now, &self.seen).map_err(|reason| AuthError::Rejected {
            method: "DPoP proof",
            reason,
        })
    }

    /// Checks a Ward credential; with `user`, it must have been issued to that user. A
    /// credential bound to a key (DPoP) needs `proof`, which is checked against it.
    async fn ward_credential(
        &self,
        kind: CredentialKind,
        user: Option<&str>,
        secret: &str,
        proof: Option<&crate::dpop::Proof>,
    ) -> Result<Identity, AuthError> {
        Ok(identity(self.proven(kind, user, secret, proof).await?))
    }

    async fn proven(
        &self,
        kind: CredentialKind,
        user: Option<&str>,
        secret: &str,
        proof: Option<&crate::dpop::Proof>,
    ) -> Result<Credential, AuthError> {
        let method = match kind {
            CredentialKind::Token => "Ward token",
            CredentialKind::ServiceAccount => "service-account key",
        };
        let owned = secret.to_owned();
        let found = self
            .with_store(move |store| store.credential_by_secret(&owned))
            .await?;
        let credential = usable(method, found, user)?;
        let rejected = |reason: String| AuthError::Rejected { method, reason };
        match (&credential.key, proof) {
            (Some(_), None) => {
                return Err(rejected(
                    "it is bound to a key (DPoP): it is accepted only as `Authorization: DPoP` with a proof signed by that key".into(),
                ));
            }
            (Some(jkt), Some(proof)) => {
                let now = Timestamp::now().0 / 1_000_000_000;
                crate::dpop::check(proof, secret, jkt, now, &self.seen).map_err(rejected)?;
            }
            (None, _) => {}
        }
        Ok(credential)
    }

    /// Runs `f` on the store, off the async threads.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store
                .lock()
                .map_err(|_| AuthError::Unavailable("credential store lock poisoned".into()))?;
            f(&mut store).map_err(|e| AuthError::Unavailable(e.to_string()))
        })
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?
    }

    /// Checks what a client gave as its password, without counting failures.
    async fn check_secret(&self, user: &str, secret: &str) -> Result<Identity, AuthError> {
        if let Some(kind) = CredentialKind::of_secret(secret) {
            return self.ward_credential(kind, Some(user), secret, None).await;
        }
        if crate::oidc::looks_like_jwt(secret) {
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
    }

    /// A local user's registered SSH key.
    async fn registered_key(&self, user: &str, fingerprint: &str) -> Result<Identity, AuthError> {
        let (name, fp) = (user.to_owned(), fingerprint.to_owned());
        let (owner, row) = self
            .with_store(move |store| Ok((store.key_owner(&fp)?, store.user(&name)?)))
            .await?;
        match (owner, row) {
            (Some(owner), Some(row)) if owner == user => Ok(Identity {
                subject: row.name,
                groups: row.groups,
                method: "publickey".into(),
                issuer: "local".into(),
                credential: Some(fingerprint.to_owned()),
            }),
            _ => Err(AuthError::Rejected {
                method: "public key",
                reason: format!(
                    "key {fingerprint} is not registered for Ward user `{user}` (ward users add-key)"
                ),
            }),
        }
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

/// `found` if it is usable and (with `user`) was issued to `user`.
fn usable(
    method: &'static str,
    found: Option<Credential>,
    user: Option<&str>,
) -> Result<Credential, AuthError> {
    let rejected = |reason: String| AuthError::Rejected { method, reason };
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
    Ok(c)
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
    fn authenticate<'a>(&'a self, user: &'a str, secret: &'a str, from: IpAddr) -> AuthFuture<'a> {
        Box::pin(async move {
            if let Some(locked) = self.throttle.check(user, from, Instant::now()) {
                return Err(AuthError::LockedOut(locked));
            }
            match self.check_secret(user, secret).await {
                Ok(identity) => {
                    self.throttle.succeeded(user);
                    Ok(identity)
                }
                // Only guessable secrets count: Ward's tokens and keys are not guessable, and an
                // expired one is no attack.
                Err(AuthError::BadCredentials) => {
                    match self.throttle.failed(user, from, Instant::now()) {
                        Some(started) => Err(AuthError::LockStarted(started)),
                        None => Err(AuthError::BadCredentials),
                    }
                }
                Err(e) => Err(e),
            }
        })
    }

    fn authenticate_key<'a>(&'a self, user: &'a str, key: KeyLogin<'a>) -> AuthFuture<'a> {
        Box::pin(async move {
            match key {
                KeyLogin::Registered { fingerprint } => {
                    self.registered_key(user, fingerprint).await
                }
                KeyLogin::Certificate { credential } => {
                    let id = credential.to_owned();
                    let found = self
                        .with_store(move |store| {
                            let filter = CredentialFilter {
                                id: Some(&id),
                                ..CredentialFilter::default()
                            };
                            Ok(store.credentials(&filter)?.pop())
                        })
                        .await?;
                    let c = usable("SSH certificate", found, Some(user))?;
                    Ok(Identity {
                        method: "ssh-certificate".into(),
                        ..identity(c)
                    })
                }
            }
        })
    }
}
