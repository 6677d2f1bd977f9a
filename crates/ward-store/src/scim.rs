//! Users and groups an identity provider pushes through SCIM 2.0 (`/scim/v2`): each resource
//! as the provider last wrote it, and the group memberships, which Ward reads as the groups of
//! SCIM users. The web server speaks the protocol; this keeps the state.

use std::collections::HashMap;

use serde_json::Value;
use ward_core::Timestamp;

use crate::db::{Db, Row, params};
use crate::requests::new_id;
use crate::store::{Store, StoreError};

/// A SCIM user.
#[derive(Debug, Clone)]
pub struct ScimUser {
    pub id: String,
    /// Ward's user name (the identity's subject).
    pub user_name: String,
    pub active: bool,
    /// The resource as the provider last wrote it.
    pub body: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A SCIM group and its members (ids and user names).
#[derive(Debug, Clone)]
pub struct ScimGroup {
    pub id: String,
    /// The group's name, as grants name groups.
    pub display_name: String,
    pub body: Value,
    pub members: Vec<(String, String)>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn body(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("SCIM resource: {e}")))
}

fn user(r: &Row) -> Result<ScimUser, StoreError> {
    Ok(ScimUser {
        id: r.text(0)?,
        user_name: r.text(1)?,
        active: r.int(2)? != 0,
        body: body(&r.text(3)?)?,
        created_at: Timestamp(r.int(4)?),
        updated_at: Timestamp(r.int(5)?),
    })
}

const USER: &str = "SELECT id, user_name, active, body, created_at, updated_at FROM scim_users";
const GROUP: &str = "SELECT id, display_name, body, created_at, updated_at FROM scim_groups";

fn group(db: &mut Db, r: &Row) -> Result<ScimGroup, StoreError> {
    let id = r.text(0)?;
    let members = db
        .query(
            "SELECT m.user_id, u.user_name FROM scim_members m JOIN scim_users u ON u.id = m.user_id
             WHERE m.group_id = ?1 ORDER BY u.user_name",
            &params![id.as_str()],
        )?
        .iter()
        .map(|m| Ok((m.text(0)?, m.text(1)?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(ScimGroup {
        id,
        display_name: r.text(1)?,
        body: body(&r.text(2)?)?,
        members,
        created_at: Timestamp(r.int(3)?),
        updated_at: Timestamp(r.int(4)?),
    })
}

/// Whether an insert or update failed on a unique name.
fn duplicate(e: &StoreError) -> bool {
    let text = e.to_string();
    text.contains("UNIQUE") || text.contains("23505")
}

impl Store {
    /// Creates a user (`id` none) or replaces user `id`; a conflict when another user has the
    /// name, none when `id` names no user.
    pub fn scim_put_user(
        &mut self,
        id: Option<&str>,
        user_name: &str,
        active: bool,
        resource: &Value,
    ) -> Result<Option<ScimUser>, StoreError> {
        let now = Timestamp::now().0;
        let text = resource.to_string();
        let written = match id {
            None => {
                let id = new_id(16)?;
                self.db
                    .execute(
                        "INSERT INTO scim_users (id, user_name, active, body, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                        &params![id.as_str(), user_name, i64::from(active), text.as_str(), now],
                    )
                    .map(|_| id)
            }
            Some(id) => self
                .db
                .execute(
                    "UPDATE scim_users SET user_name = ?2, active = ?3, body = ?4, updated_at = ?5 WHERE id = ?1",
                    &params![id, user_name, i64::from(active), text.as_str(), now],
                )
                .map(|n| if n == 0 { String::new() } else { id.to_owned() }),
        };
        match written {
            Ok(id) if id.is_empty() => Ok(None),
            Ok(id) => self.scim_user(&id),
            Err(e) if duplicate(&e) => Err(StoreError::Conflict(format!(
                "a user named {user_name} exists already"
            ))),
            Err(e) => Err(e),
        }
    }

    pub fn scim_user(&mut self, id: &str) -> Result<Option<ScimUser>, StoreError> {
        self.db
            .query_opt(&format!("{USER} WHERE id = ?1"), &params![id])?
            .map(|r| user(&r))
            .transpose()
    }

    /// The users, by name; only the one named `user_name` when given.
    pub fn scim_users(&mut self, user_name: Option<&str>) -> Result<Vec<ScimUser>, StoreError> {
        let rows = match user_name {
            Some(name) => self
                .db
                .query(&format!("{USER} WHERE user_name = ?1"), &params![name])?,
            None => self.db.query(&format!("{USER} ORDER BY user_name"), &[])?,
        };
        rows.iter().map(user).collect()
    }

    /// Deletes user `id` and its memberships; the user deleted, if there was one.
    pub fn scim_delete_user(&mut self, id: &str) -> Result<Option<ScimUser>, StoreError> {
        let Some(found) = self.scim_user(id)? else {
            return Ok(None);
        };
        self.db.transaction(|db| {
            db.execute("DELETE FROM scim_members WHERE user_id = ?1", &params![id])?;
            db.execute("DELETE FROM scim_users WHERE id = ?1", &params![id])
        })?;
        Ok(Some(found))
    }

    /// Creates a group (`id` none) or replaces group `id`, with exactly `members` (user ids);
    /// a conflict when another group has the name or a member is no user; none when `id` names
    /// no group.
    pub fn scim_put_group(
        &mut self,
        id: Option<&str>,
        display_name: &str,
        resource: &Value,
        members: &[String],
    ) -> Result<Option<ScimGroup>, StoreError> {
        let now = Timestamp::now().0;
        let text = resource.to_string();
        let written = self.db.transaction(|db| {
            let id = match id {
                None => {
                    let id = new_id(16)?;
                    db.execute(
                        "INSERT INTO scim_groups (id, display_name, body, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?4)",
                        &params![id.as_str(), display_name, text.as_str(), now],
                    )?;
                    id
                }
                Some(id) => {
                    let n = db.execute(
                        "UPDATE scim_groups SET display_name = ?2, body = ?3, updated_at = ?4 WHERE id = ?1",
                        &params![id, display_name, text.as_str(), now],
                    )?;
                    if n == 0 {
                        return Ok(None);
                    }
                    id.to_owned()
                }
            };
            db.execute("DELETE FROM scim_members WHERE group_id = ?1", &params![id.as_str()])?;
            for member in members {
                let known = db.query_opt("SELECT 1 FROM scim_users WHERE id = ?1", &params![member])?;
                if known.is_none() {
                    return Err(StoreError::Conflict(format!("no user with id {member}")));
                }
                db.execute(
                    "INSERT INTO scim_members (group_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    &params![id.as_str(), member],
                )?;
            }
            Ok(Some(id))
        });
        match written {
            Ok(Some(id)) => self.scim_group(&id),
            Ok(None) => Ok(None),
            Err(e) if duplicate(&e) => Err(StoreError::Conflict(format!(
                "a group named {display_name} exists already"
            ))),
            Err(e) => Err(e),
        }
    }

    pub fn scim_group(&mut self, id: &str) -> Result<Option<ScimGroup>, StoreError> {
        let Some(row) = self
            .db
            .query_opt(&format!("{GROUP} WHERE id = ?1"), &params![id])?
        else {
            return Ok(None);
        };
        group(&mut self.db, &row).map(Some)
    }

    /// The groups, by name; only the one named `display_name` when given.
    pub fn scim_groups(
        &mut self,
        display_name: Option<&str>,
    ) -> Result<Vec<ScimGroup>, StoreError> {
        let rows = match display_name {
            Some(name) => self
                .db
                .query(&format!("{GROUP} WHERE display_name = ?1"), &params![name])?,
            None => self
                .db
                .query(&format!("{GROUP} ORDER BY display_name"), &[])?,
        };
        rows.iter().map(|r| group(&mut self.db, r)).collect()
    }

    /// Deletes group `id` and its memberships; whether there was one.
    pub fn scim_delete_group(&mut self, id: &str) -> Result<bool, StoreError> {
        self.db.transaction(|db| {
            db.execute("DELETE FROM scim_members WHERE group_id = ?1", &params![id])?;
            Ok(db.execute("DELETE FROM scim_groups WHERE id = ?1", &params![id])? > 0)
        })
    }

    /// Every SCIM user's name with the names of its groups: Ward takes these as their groups.
    pub fn scim_memberships(&mut self) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in self.db.query("SELECT user_name FROM scim_users", &[])? {
            out.insert(r.text(0)?, Vec::new());
        }
        let rows = self.db.query(
            "SELECT u.user_name, g.display_name FROM scim_members m
             JOIN scim_users u ON u.id = m.user_id JOIN scim_groups g ON g.id = m.group_id
             ORDER BY g.display_name",
            &[],
        )?;
        for r in rows {
            out.entry(r.text(0)?).or_default().push(r.text(1)?);
        }
        Ok(out)
    }
}
