//! Which table column each result column is. A RowDescription names a column's table by OID
//! and its place there by attribute number; the names come from the resource's catalog, looked
//! up once per table and session, so that column rules match `users.password` under any alias
//! (`SELECT password AS p FROM users`).
//!
//! The lookups run on a connection of Ward's own per resource ([`Catalog`]), never on a
//! client's: the client's connection carries its own protocol state, transaction and settings,
//! which a lookup must neither disturb nor depend on.

use std::collections::HashMap;
use std::sync::Arc;

use crate::client::{Limit, Reply};
use crate::codec::backend::{Column, Source};
use crate::upstream::Target;

/// Each asked table's schema-qualified name and its live columns.
const LOOKUP: &str = "SELECT c.oid, n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname, a.attnum, a.attname \
     FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
     JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid \
     WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[]) AND a.attnum OPERATOR(pg_catalog.>) 0";

/// A function's name, for a fast-path call by OID.
const FUNCTION: &str = "SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid";

/// Tables asked for at once at most (a RowDescription has at most 1664 columns).
const MAX_TABLES: usize = 2048;

/// The connection a resource's sessions look their tables up on, opened when first needed
/// (as the role of the session that needs it: every role may read the catalog) and again
/// after it fails.
#[derive(Default)]
pub struct Catalog {
    conn: tokio::sync::Mutex<Option<crate::upstream::Upstream>>,
}

impl Catalog {
    /// The name of function `oid` (`pg_read_file`), `None` when there is no such function or
    /// the lookup failed (logged).
    pub async fn function_name(
        &self,
        target: &Target,
        max_message: usize,
        oid: u32,
    ) -> Option<String> {
        let params = [Some(oid.to_string())];
        match self.run(target, max_message, FUNCTION, &params).await {
            Ok(reply) => reply.rows.into_iter().next()?.into_iter().next()?,
            Err(e) => {
                tracing::warn!(resource = %target.resource.name, error = %e, "could not look up the function of a fast-path call");
                None
            }
        }
    }

    /// The rows of [`LOOKUP`] for `oids`.
    async fn lookup(
        &self,
        target: &Target,
        max_message: usize,
        oids: &[u32],
    ) -> Result<Reply, String> {
        let list = oids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let params = [Some(format!("{{{list}}}"))];
        self.run(target, max_message, LOOKUP, &params).await
    }

    /// Runs `sql` on the catalog connection, opening it (again) when needed.
    async fn run(
        &self,
        target: &Target,
        max_message: usize,
        sql: &str,
        params: &[Option<String>],
    ) -> Result<Reply, String> {
        let limit = Limit {
            rows: usize::MAX,
            bytes: usize::MAX,
        };
        let mut conn = self.conn.lock().await;
        for attempt in 0..2 {
            if conn.is_none() {
                let name = [("application_name", "ward-catalog")];
                match target.connect(&name, max_message).await {
                    Ok(c) => *conn = Some(c),
                    Err(e) if attempt == 1 => return Err(e.to_string()),
                    Err(_) => continue,
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            match c.execute(sql, params, limit).await {
                Ok(reply) => match reply.error {
                    Some(e) => return Err(format!("{}: {}", e.code, e.message)),
                    None => return Ok(reply),
                },
                // A connection that failed is opened again once.
                Err(e) if attempt == 1 => return Err(e.to_string()),
                Err(_) => *conn = None,
            }
        }
        Err("the catalog connection failed".into())
    }
}

/// A table's name and its columns by attribute number.
struct Table {
    name: Arc<str>,
    columns: HashMap<i16, Arc<str>>,
}

/// The tables one session has looked up, by OID.
#[derive(Default)]
pub struct Tables {
    /// `None`: looked up, and not found (dropped since).
    known: HashMap<u32, Option<Table>>,
}

impl Tables {
    /// Sets the source of every column of `columns` that comes from a table, looking up the
    /// tables not seen before on `target`'s catalog connection. A failed lookup leaves those
    /// columns without a source (their rules then match by label alone) and is logged.
    pub async fn resolve(&mut self, columns: &mut [Column], target: &Target, max_message: usize) {
        let mut unknown: Vec<u32> = columns
            .iter()
            .map(|c| c.table_oid)
            .filter(|oid| *oid != 0 && !self.known.contains_key(oid))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        unknown.truncate(MAX_TABLES);
        if !unknown.is_empty() {
            match target.catalog.lookup(target, max_message, &unknown).await {
                Ok(reply) => self.learn(&unknown, &reply),
                Err(e) => tracing::warn!(
                    resource = %target.resource.name,
                    error = %e,
                    "could not look up the tables of a result: its column rules match by label alone"
                ),
            }
        }
        for c in columns.iter_mut() {
            c.source = self.source(c.table_oid, c.attnum);
        }
    }

    /// Remembers the tables in `reply` (rows of [`LOOKUP`]), and that the rest of `asked` is gone.
    fn learn(&mut self, asked: &[u32], reply: &Reply) {
        for oid in asked {
            self.known.insert(*oid, None);
        }
        for row in &reply.rows {
            let [Some(oid), Some(table), Some(attnum), Some(column)] = row.as_slice() else {
                continue;
            };
            let (Ok(oid), Ok(attnum)) = (oid.parse::<u32>(), attnum.parse::<i16>()) else {
                continue;
            };
            let entry = self
                .known
                .entry(oid)
                .or_default()
                .get_or_insert_with(|| Table {
                    name: Arc::from(table.as_str()),
                    columns: HashMap::new(),
                });
            entry.columns.insert(attnum, Arc::from(column.as_str()));
        }
    }

    fn source(&self, table_oid: u32, attnum: i16) -> Option<Source> {
        let table = self.known.get(&table_oid)?.as_ref()?;
        Some(Source {
            table: table.name.clone(),
            column: table.columns.get(&attnum)?.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_tables_name_their_columns_and_gone_ones_name_none() {
        let mut tables = Tables::default();
        let row = |v: [&str; 4]| v.iter().map(|s| Some((*s).to_owned())).collect();
        let reply = Reply {
            rows: vec![
                row(["16384", "public.users", "1", "id"]),
                row(["16384", "public.users", "2", "password"]),
            ],
            ..Reply::default()
        };
        tables.learn(&[16384, 99999], &reply);
        let s = tables.source(16384, 2).expect("known");
        assert_eq!((&*s.table, &*s.column), ("public.users", "password"));
        assert_eq!(tables.source(16384, 3), None, "no such attribute");
        assert_eq!(tables.source(99999, 1), None, "a dropped table");
        assert!(tables.known.contains_key(&99999), "not asked again");
    }
}
