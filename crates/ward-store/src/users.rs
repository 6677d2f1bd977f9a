//! Local users: name, groups and an argon2id password hash (the hashing lives with the caller),
//! and the SSH public keys registered for them (parsing keys lives with the caller too); and
//! the SSH host keys Ward trusted on first use.

use serde::Serialize;
use ward_core::Timestamp;

use crate::db::{Row, params};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    pub name: String,
    pub groups: Vec<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: String,
}

impl Store {
    /// Adds a user, or replaces the groups and password of an existing one.
    pub fn put_user(
        &mut self,
        name: &str,
        groups: &[String],
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let groups = serde_json::to_string(groups).unwrap_or_default();
        self.db.execute(
            "INSERT INTO users (name, groups, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET groups = excluded.groups, password_hash = excluded.password_hash",
            &params![name, &groups, password_hash, Timestamp::now().0],
        )?;
        Ok(())
    }

    pub fn user(&mut self, name: &str) -> Result<Option<UserRow>, StoreError> {
        self.db
            .query_opt(
                "SELECT name, groups, password_hash, created_at FROM users WHERE name = ?1",
                &params![name],
            )?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    pub fn users(&mut self) -> Result<Vec<UserRow>, StoreError> {
        self.db
            .query(
                "SELECT name, groups, password_hash, created_at FROM users ORDER BY name",
                &[],
            )?
            .iter()
            .map(user_row)
            .collect()
    }
}

/// An SSH public key a local user may log in with.
#[derive(Debug, Clone, Serialize)]
pub struct UserKey {
    pub user: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The OpenSSH public key line.
    pub public_key: String,
    pub created_at: String,
}

impl Store {
    /// Registers `public_key` (fingerprint `fingerprint`) for local user `user`. A key belongs
    /// to one user: registering another user's key is an error.
    pub fn add_user_key(
        &mut self,
        user: &str,
        fingerprint: &str,
        public_key: &str,
    ) -> Result<(), StoreError> {
        if let Some(owner) = self.key_owner(fingerprint)? {
            if owner == user {
                return Ok(());
            }
            return Err(StoreError::Conflict(format!(
                "key {fingerprint} is already registered for user {owner}"
            )));
        }
        self.db.execute(
            "INSERT INTO user_keys (fingerprint, name, public_key, created_at) VALUES (?1, ?2, ?3, ?4)",
            &params![fingerprint, user, public_key, Timestamp::now().0],
        )?;
        Ok(())
    }

    /// The local user key `fingerprint` is registered for.
    pub fn key_owner(&mut self, fingerprint: &str) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt(
                "SELECT name FROM user_keys WHERE fingerprint = ?1",
                &params![fingerprint],
            )?
            .map(|r| r.text(0))
            .transpose()
    }

    /// The keys of `user` (of every user with `None`).
    pub fn user_keys(&mut self, user: Option<&str>) -> Result<Vec<UserKey>, StoreError> {
        let rows = match user {
            Some(user) => self.db.query(
                "SELECT name, fingerprint, public_key, created_at FROM user_keys WHERE name = ?1 ORDER BY created_at, fingerprint",
                &params![user],
            )?,
            None => self.db.query(
                "SELECT name, fingerprint, public_key, created_at FROM user_keys ORDER BY name, created_at, fingerprint",
                &[],
            )?,
        };
        rows.iter()
            .map(|r| {
                Ok(UserKey {
                    user: r.text(0)?,
                    fingerprint: r.text(1)?,
                    public_key: r.text(2)?,
                    created_at: Timestamp(r.int(3)?).to_rfc3339(),
                })
            })
            .collect()
    }

    /// Removes key `fingerprint` of `user`; false if the user has no such key.
    pub fn remove_user_key(&mut self, user: &str, fingerprint: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute(
            "DELETE FROM user_keys WHERE name = ?1 AND fingerprint = ?2",
            &params![user, fingerprint],
        )? > 0)
    }
}

fn user_row(r: &Row) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        name: r.text(0)?,
        groups: serde_json::from_str(&r.text(1)?).unwrap_or_default(),
        password_hash: r.text(2)?,
        created_at: Timestamp(r.int(3)?).to_rfc3339(),
    })
}

impl Store {
    /// The host key learned for SSH resource `resource`, or, if none was, `presented`, which is
    /// then kept (the first one stored wins, whichever replica stores it).
    pub fn learn_host_key(
        &mut self,
        resource: &str,
        presented: &str,
    ) -> Result<String, StoreError> {
        self.db.execute(
            "INSERT INTO ssh_host_keys (resource, host_key, learned_at) VALUES (?1, ?2, ?3) ON CONFLICT (resource) DO NOTHING",
            &params![resource, presented, Timestamp::now().0],
        )?;
        self.db
            .query_one(
                "SELECT host_key FROM ssh_host_keys WHERE resource = ?1",
                &params![resource],
            )?
            .text(0)
    }
}
