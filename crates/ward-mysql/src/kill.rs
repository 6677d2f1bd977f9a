//! `KILL`, MySQL's cancel: a client stops a query of its own from a second connection with
//! `KILL QUERY id`, where `id` is the connection id its first connection was given (the id in
//! Ward's greeting, not the server's). Ward keeps which of its connections stands for which
//! upstream connection, and carries out a KILL only for a connection of the same Ward user on
//! the same resource, over a fresh upstream connection as that session's own account. Every
//! other `KILL` is refused: upstream accounts are shared between Ward's users, so the
//! server's own check (same account) would let one user stop another's queries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ward_config::Secret;
use ward_core::payload::{DbCancel, Payload};
use ward_policy::{Dialect, statement_heads};
use ward_store::{JsonBody, SessionRecorder};

use crate::codec::{command, packet, response};
use crate::session::errors;
use crate::upstream::{ClientTerms, Target};
use crate::wire::send;

/// What a connection's `KILL` can reach.
#[derive(Clone)]
pub(crate) struct Entry {
    pub subject: String,
    pub resource: String,
    pub target: Arc<Target>,
    pub user: String,
    pub password: Option<Secret>,
    /// The server's id of the upstream connection.
    pub upstream_id: u32,
    pub recorder: SessionRecorder,
}

/// Ward's connection ids, and the upstream connection each stands for once logged in.
#[derive(Default)]
pub(crate) struct Registry {
    map: Mutex<HashMap<u32, Option<Entry>>>,
}

/// A connection id, given back when the connection ends.
pub(crate) struct Id {
    pub id: u32,
    registry: Arc<Registry>,
}

impl Drop for Id {
    fn drop(&mut self) {
        self.registry
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Registry {
    /// A fresh connection id.
    pub fn allocate(self: &Arc<Self>) -> Id {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let mut raw = [0u8; 4];
            let _ = getrandom::fill(&mut raw);
            // Below 2^31: some clients read the id as a signed number.
            let id = u32::from_le_bytes(raw) & 0x7fff_ffff;
            if id != 0
                && let std::collections::hash_map::Entry::Vacant(slot) = map.entry(id)
            {
                slot.insert(None);
                return Id {
                    id,
                    registry: self.clone(),
                };
            }
        }
    }

    /// Connection `id` is logged in upstream as `entry` says.
    pub fn register(&self, id: &Id, entry: Entry) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(id.id, Some(entry));
    }

    fn find(&self, id: u32) -> Option<Entry> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&id).cloned().flatten()
    }
}

/// A `KILL` statement, as far as Ward reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kill {
    /// `KILL [HARD|SOFT] [CONNECTION|QUERY] id`, alone.
    Connection { query_only: bool, id: u32 },
    /// Any other statement that kills: by query id or user, or among other statements.
    Other,
}

/// Whether `text` kills, and how. Statements inside executable comments, `PREPARE … FROM` and
/// `EXECUTE IMMEDIATE` count; text that cannot be read and mentions KILL counts as `Other`.
pub(crate) fn classify(text: &[u8]) -> Option<Kill> {
    let Some(heads) = statement_heads(text, Dialect::Mysql) else {
        let lower = text.to_ascii_lowercase();
        return lower
            .windows(4)
            .any(|w| w == b"kill")
            .then_some(Kill::Other);
    };
    if !heads.iter().any(|h| h.first().is_some_and(|w| w == "kill")) {
        return None;
    }
    let [head] = heads.as_slice() else {
        return Some(Kill::Other);
    };
    let words: Vec<&str> = head.iter().map(String::as_str).skip(1).collect();
    let words = match words.as_slice() {
        ["hard" | "soft", rest @ ..] => rest,
        rest => rest,
    };
    let (query_only, id) = match words {
        ["query", id] => (true, id),
        ["connection", id] | [id] => (false, id),
        _ => return Some(Kill::Other),
    };
    Some(match id.parse() {
        Ok(id) => Kill::Connection { query_only, id },
        Err(_) => Kill::Other,
    })
}

/// Why a `KILL` was refused: the error for the client, and the record's reason.
pub(crate) struct Refused {
    pub code: errors::Code,
    pub message: String,
}

/// Who sends `KILL`s: a session admitted to a resource, or a login that named none.
pub(crate) struct Killer {
    pub registry: Arc<Registry>,
    /// The Ward user.
    pub subject: String,
    /// The client's address, recorded with a cancel.
    pub from: String,
    /// What the client negotiated, which the upstream connection of a KILL carries on.
    pub capabilities: u32,
    pub max_packet: u32,
    pub charset: u8,
    /// The largest packet Ward reads.
    pub max_message: usize,
}

impl Killer {
    /// Carries out `kill`: the payload of the server's answer (OK, or its ERR) for the client.
    pub async fn kill(&self, kill: Kill) -> Result<Vec<u8>, Refused> {
        let terms = ClientTerms {
            capabilities: self.capabilities,
            max_packet: self.max_packet,
            charset: self.charset,
            attributes: &[],
            local_infile: false,
        };
        execute(
            &self.registry,
            &self.subject,
            &self.from,
            kill,
            &terms,
            self.max_message,
        )
        .await
    }
}

/// Carries out `kill` for Ward user `subject`.
async fn execute(
    registry: &Registry,
    subject: &str,
    from: &str,
    kill: Kill,
    terms: &ClientTerms<'_>,
    max_packet: usize,
) -> Result<Vec<u8>, Refused> {
    let Kill::Connection { query_only, id } = kill else {
        return Err(Refused {
            code: errors::SPECIFIC_ACCESS_DENIED,
            message: "Ward carries out only `KILL [QUERY] id` alone in its statement, for a connection of your own, with the id your client was given for it (mysql_thread_id, not CONNECTION_ID())".into(),
        });
    };
    let Some(entry) = registry.find(id).filter(|e| e.subject == subject) else {
        return Err(Refused {
            code: errors::NO_SUCH_THREAD,
            message: format!(
                "Unknown thread id: {id} (no connection of yours through Ward has it)"
            ),
        });
    };
    entry
        .recorder
        .record(JsonBody::from(Payload::DbCancel(DbCancel {
            from: from.to_owned(),
        })))
        .await;
    let failed = |e: String| Refused {
        code: errors::UPSTREAM_UNREACHABLE,
        message: format!(
            "Ward could not reach resource \"{}\" to stop the query: {e}",
            entry.resource
        ),
    };
    let mut upstream = entry
        .target
        .connect(&entry.user, entry.password.as_ref(), terms, max_packet)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let what = if query_only { "QUERY " } else { "" };
    let mut payload = vec![command::QUERY];
    payload.extend_from_slice(format!("KILL {what}{}", entry.upstream_id).as_bytes());
    let mut out = Vec::new();
    packet::write(&mut out, 0, &payload);
    send(&mut upstream.stream, &out)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let answer = upstream
        .reader
        .next(&mut upstream.stream)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let answer = answer.payload().into_owned();
    if response::is_ok(&answer) || response::is_err(&answer) {
        Ok(answer)
    } else {
        Err(failed("an answer that is neither OK nor ERR".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_kills() {
        let own = |query_only, id| Some(Kill::Connection { query_only, id });
        assert_eq!(classify(b"KILL QUERY 42"), own(true, 42));
        assert_eq!(classify(b"kill 42;"), own(false, 42));
        assert_eq!(classify(b"/* x */ KILL HARD CONNECTION 7"), own(false, 7));
        assert_eq!(classify(b"select 1"), None);
        assert_eq!(classify(b"select 'kill 5'"), None);
        for other in [
            &b"KILL QUERY ID 5"[..],
            b"KILL USER app",
            b"SELECT 1; KILL 5",
            b"/*!KILL 5*/; select 2",
            b"PREPARE s FROM 'KILL 5'",
            b"EXECUTE IMMEDIATE 'kill 5'",
            b"KILL 'x",
        ] {
            assert_eq!(
                classify(other),
                Some(Kill::Other),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
