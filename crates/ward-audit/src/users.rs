//! Local users: name, groups and an argon2id password hash (the hashing lives with the caller).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use ward_core::Timestamp;

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
        &self,
        name: &str,
        groups: &[String],
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO users (name, groups, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET groups = excluded.groups, password_hash = excluded.password_hash",
            params![name, serde_json::to_string(groups).unwrap_or_default(), password_hash, Timestamp::now().0],
        )?;
        Ok(())
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, groups, password_hash, created_at FROM users WHERE name = ?1",
                [name],
                user_row,
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, groups, password_hash, created_at FROM users ORDER BY name")?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    let groups: String = r.get(1)?;
    Ok(UserRow {
        name: r.get(0)?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        password_hash: r.get(2)?,
        created_at: Timestamp(r.get(3)?).to_rfc3339(),
    })
}
