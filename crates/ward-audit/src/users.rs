//! Local users: name, groups and an argon2id password hash (the hashing lives with the caller).

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

fn user_row(r: &Row) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        name: r.text(0)?,
        groups: serde_json::from_str(&r.text(1)?).unwrap_or_default(),
        password_hash: r.text(2)?,
        created_at: Timestamp(r.int(3)?).to_rfc3339(),
    })
}
