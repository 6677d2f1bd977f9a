//! The two databases the store runs on, behind one small interface: SQLite (embedded, the
//! default) and PostgreSQL (shared by several Ward processes).
//!
//! SQL is written once with SQLite's `?1` placeholders; for PostgreSQL they become `$1`.
//! Values are 64-bit integers, byte strings and text (the PostgreSQL schema uses `BIGINT`,
//! `BYTEA` and `TEXT` only), so rows read the same from both. Prepared statements are cached
//! per connection on both.

use std::collections::HashMap;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::types::ValueRef;

use crate::pgtls::StoreTls;
use crate::store::StoreError;

/// A parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum P<'a> {
    Null,
    Int(i64),
    Bytes(&'a [u8]),
    Text(&'a str),
}

impl From<i64> for P<'_> {
    fn from(v: i64) -> Self {
        P::Int(v)
    }
}
impl<'a> From<&'a [u8]> for P<'a> {
    fn from(v: &'a [u8]) -> Self {
        P::Bytes(v)
    }
}
impl<'a> From<&'a Vec<u8>> for P<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        P::Bytes(v)
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for P<'a> {
    fn from(v: &'a [u8; N]) -> Self {
        P::Bytes(v)
    }
}
impl<'a> From<&'a str> for P<'a> {
    fn from(v: &'a str) -> Self {
        P::Text(v)
    }
}
impl<'a> From<&'a String> for P<'a> {
    fn from(v: &'a String) -> Self {
        P::Text(v)
    }
}
impl<'a, T: Into<P<'a>>> From<Option<T>> for P<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(P::Null, Into::into)
    }
}

/// `[P::from(a), P::from(b), …]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => { [$($crate::db::P::from($v)),*] };
}
pub(crate) use params;

impl rusqlite::ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput::Borrowed;
        Ok(match *self {
            P::Null => Borrowed(ValueRef::Null),
            P::Int(i) => Borrowed(ValueRef::Integer(i)),
            P::Bytes(b) => Borrowed(ValueRef::Blob(b)),
            P::Text(t) => Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

/// One event row, for [`Db::insert_events`].
#[derive(Debug)]
pub(crate) struct EventRow {
    pub session: [u8; 16],
    pub seq: i64,
    pub at: i64,
    pub kind: &'static str,
    pub payload: Vec<u8>,
    pub compressed: bool,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
}

/// What the full-text index keeps of an event: the text a person or an agent typed.
struct SearchText {
    session: [u8; 16],
    seq: i64,
    kind: &'static str,
    text: String,
}

/// The searchable text of a statement, a command, an agent's note or the reason given for an
/// access (as recorded: masked).
fn search_text(r: &EventRow) -> Option<SearchText> {
    let field = match r.kind {
        "db.query" | "agent.note" => "text",
        "exec.command" => "command",
        "term.input" => "data",
        "file.transfer" | "file.op" => "path",
        // The reason given for an access, to find a ticket's sessions.
        "policy.decision" => "reason_given",
        _ => return None,
    };
    if r.compressed {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&r.payload).ok()?;
    let text = value.get(field)?.as_str()?;
    Some(SearchText {
        session: r.session,
        seq: r.seq,
        kind: r.kind,
        text: text.to_owned(),
    })
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
}

/// One row.
#[derive(Debug)]
pub(crate) struct Row(Vec<Val>);

impl Row {
    fn get(&self, i: usize) -> Result<&Val, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {i}")))
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.get(i)? {
            Val::Int(v) => Ok(*v),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: {other:?} is not an integer"
            ))),
        }
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.get(i)? {
            Val::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// Bytes of a blob, or of text.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.get(i)? {
            Val::Bytes(b) => Ok(b.clone()),
            Val::Text(t) => Ok(t.as_bytes().to_vec()),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: {other:?} is not bytes"
            ))),
        }
    }

    /// Moves a blob (or text) out of the row instead of copying it: for payloads, which can
    /// be megabytes.
    pub fn take_bytes(&mut self, i: usize) -> Result<Vec<u8>, StoreError> {
        let v = self
            .0
            .get_mut(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {i}")))?;
        match std::mem::replace(v, Val::Null) {
            Val::Bytes(b) => Ok(b),
            Val::Text(t) => Ok(t.into_bytes()),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: {other:?} is not bytes"
            ))),
        }
    }

    pub fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.get(i)? {
            Val::Null => Ok(None),
            _ => self.bytes(i).map(Some),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.get(i)? {
            Val::Text(t) => Ok(t.clone()),
            Val::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: {other:?} is not text"
            ))),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.get(i)? {
            Val::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
}

/// A connection to either database.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(PgConn),
}

fn pg_sql(sql: &str) -> String {
    // `?N` → `$N` (the SQL text never holds a literal `?`).
    sql.replace('?', "$")
}

/// A PostgreSQL connection driven by a thread of its own.
///
/// The `postgres` client blocks on a private async runtime, which panics on a thread that
/// already drives one (an async `ward serve` task, a `#[tokio::test]`). Its own thread makes
/// the store callable from anywhere; each call sends the work there and waits for the answer.
pub(crate) struct PgConn {
    jobs: std::sync::mpsc::Sender<PgJob>,
}

type PgJob = Box<dyn FnOnce(&mut PgState) + Send>;

struct PgState {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgState {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&pg_sql(sql))?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

/// Opens one client connection, over TLS when `tls` is given.
fn open_client(url: &str, tls: Option<StoreTls>) -> Result<postgres::Client, StoreError> {
    use postgres::config::SslMode;
    let mut config: postgres::Config = url.parse()?;
    let Some(tls) = tls else {
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Postgres(
                "the store URL asks for sslmode=require: set [store] tls = \"require\" or \"verify-full\"".into(),
            ));
        }
        return Ok(config.connect(postgres::NoTls)?);
    };
    // `prefer` (the default) would fall back to plain TCP when the server declines TLS.
    config.ssl_mode(SslMode::Require);
    Ok(config.connect(tls)?)
}

impl PgConn {
    /// Connects: over TLS with `tls` (never falling back to plain TCP), else plain TCP or a
    /// Unix socket.
    pub fn connect(url: &str, tls: Option<StoreTls>) -> Result<Self, StoreError> {
        let (jobs, inbox) = std::sync::mpsc::channel::<PgJob>();
        let (ready, connected) = std::sync::mpsc::channel();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("ward-store-pg".into())
            .spawn(move || {
                let client = match open_client(&url, tls) {
                    Ok(c) => {
                        let _ = ready.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let mut state = PgState {
                    client,
                    statements: HashMap::new(),
                };
                // Ends when the connection's owner drops it.
                while let Ok(job) = inbox.recv() {
                    job(&mut state);
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start a store thread: {e}")))?;
        connected
            .recv()
            .map_err(|_| StoreError::Corrupt("the store thread stopped".into()))??;
        Ok(Self { jobs })
    }

    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut PgState) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.jobs
            .send(Box::new(move |state| {
                let _ = tx.send(f(state));
            }))
            .map_err(|_| StoreError::Corrupt("the store thread stopped".into()))?;
        rx.recv()
            .map_err(|_| StoreError::Corrupt("the store thread stopped".into()))?
    }
}

/// An owned parameter, to cross to the PostgreSQL thread.
#[derive(Debug)]
enum Owned {
    Null,
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
}

impl ToSql for Owned {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Owned::Null => Ok(IsNull::Yes),
            Owned::Int(i) => i.to_sql(ty, out),
            Owned::Bytes(b) => b.as_slice().to_sql(ty, out),
            Owned::Text(t) => t.as_str().to_sql(ty, out),
        }
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

fn owned(params: &[P<'_>]) -> Vec<Owned> {
    params
        .iter()
        .map(|p| match *p {
            P::Null => Owned::Null,
            P::Int(i) => Owned::Int(i),
            P::Bytes(b) => Owned::Bytes(b.to_vec()),
            P::Text(t) => Owned::Text(t.to_owned()),
        })
        .collect()
}

fn pg_row(r: &postgres::Row) -> Result<Row, StoreError> {
    let mut vals = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)?
                .map_or(Val::Null, |v| Val::Int(v.into())),
            Type::BYTEA => r
                .try_get::<_, Option<Vec<u8>>>(i)?
                .map_or(Val::Null, Val::Bytes),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)?
                .map_or(Val::Null, |b| Val::Int(b.into())),
            Type::TEXT | Type::VARCHAR | Type::NAME => r
                .try_get::<_, Option<String>>(i)?
                .map_or(Val::Null, Val::Text),
            // void (pg_advisory_xact_lock) and anything else Ward never reads.
            _ => Val::Null,
        };
        vals.push(v);
    }
    Ok(Row(vals))
}

impl Db {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Runs several statements without parameters.
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => c.execute_batch(sql)?,
            Db::Postgres(pg) => {
                let sql = sql.to_owned();
                pg.call(move |st| Ok(st.client.batch_execute(&sql)?))?;
            }
        }
        Ok(())
    }

    /// Runs one statement; returns the number of rows changed.
    pub fn execute(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Db::Postgres(pg) => {
                let (sql, params) = (sql.to_owned(), owned(params));
                pg.call(move |st| {
                    let stmt = st.statement(&sql)?;
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                    Ok(st.client.execute(&stmt, &refs)?)
                })
            }
        }
    }

    /// Inserts a batch of events: one prepared INSERT per row on SQLite, one binary COPY on
    /// PostgreSQL (a round trip per batch instead of per event).
    pub fn insert_events(&mut self, rows: Vec<EventRow>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let texts: Vec<SearchText> = rows.iter().filter_map(search_text).collect();
        match self {
            Db::Sqlite(c) => {
                let mut text = c.prepare_cached(
                    "INSERT INTO event_text (text, session_id, seq, kind) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for t in &texts {
                    text.execute(rusqlite::params![t.text, &t.session[..], t.seq, t.kind])?;
                }
                let mut stmt = c.prepare_cached(
                    "INSERT INTO events (session_id, seq, at, kind, payload, compressed, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for r in &rows {
                    stmt.execute(rusqlite::params![
                        &r.session[..],
                        r.seq,
                        r.at,
                        r.kind,
                        &r.payload,
                        r.compressed,
                        &r.prev[..],
                        &r.hash[..]
                    ])?;
                }
                Ok(())
            }
            Db::Postgres(pg) => pg.call(move |st| {
                    use postgres::binary_copy::BinaryCopyInWriter;
                    let sink = st.client.copy_in(
                        "COPY events (session_id, seq, at, kind, payload, compressed, prev_hash, hash) FROM STDIN (FORMAT binary)",
                    )?;
                    let types = [
                        Type::BYTEA,
                        Type::INT8,
                        Type::INT8,
                        Type::TEXT,
                        Type::BYTEA,
                        Type::INT8,
                        Type::BYTEA,
                        Type::BYTEA,
                    ];
                    let mut w = BinaryCopyInWriter::new(sink, &types);
                    for r in &rows {
                        let compressed = i64::from(r.compressed);
                        w.write(&[
                            &&r.session[..],
                            &r.seq,
                            &r.at,
                            &r.kind,
                            &r.payload.as_slice(),
                            &compressed,
                            &&r.prev[..],
                            &&r.hash[..],
                        ])?;
                    }
                    w.finish()?;
                    if !texts.is_empty() {
                        let sink = st.client.copy_in(
                            "COPY event_text (session_id, seq, kind, text) FROM STDIN (FORMAT binary)",
                        )?;
                        let types = [Type::BYTEA, Type::INT8, Type::TEXT, Type::TEXT];
                        let mut w = BinaryCopyInWriter::new(sink, &types);
                        for t in &texts {
                            w.write(&[&&t.session[..], &t.seq, &t.kind, &t.text])?;
                        }
                        w.finish()?;
                    }
                    Ok(())
                }),
        }
    }

    /// Calls `each` for every row, in order; stops when it returns false. SQLite streams the
    /// rows; PostgreSQL's arrive from its thread all at once.
    pub fn for_each(
        &mut self,
        sql: &str,
        params: &[P<'_>],
        mut each: impl FnMut(Row) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                while let Some(r) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        vals.push(match r.get_ref(i)? {
                            ValueRef::Null => Val::Null,
                            ValueRef::Integer(v) => Val::Int(v),
                            ValueRef::Real(f) => Val::Int(f as i64),
                            ValueRef::Text(t) => match std::str::from_utf8(t) {
                                Ok(s) => Val::Text(s.to_owned()),
                                Err(_) => Val::Bytes(t.to_vec()),
                            },
                            ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
                        });
                    }
                    if !each(Row(vals))? {
                        break;
                    }
                }
                Ok(())
            }
            Db::Postgres(pg) => {
                let (sql, params) = (sql.to_owned(), owned(params));
                let rows = pg.call(move |st| {
                    let stmt = st.statement(&sql)?;
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                    st.client
                        .query(&stmt, &refs)?
                        .iter()
                        .map(pg_row)
                        .collect::<Result<Vec<_>, _>>()
                })?;
                for r in rows {
                    if !each(r)? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    pub fn query(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut out = Vec::new();
        self.for_each(sql, params, |r| {
            out.push(r);
            Ok(true)
        })?;
        Ok(out)
    }

    pub fn query_opt(&mut self, sql: &str, params: &[P<'_>]) -> Result<Option<Row>, StoreError> {
        let mut out = None;
        self.for_each(sql, params, |r| {
            out = Some(r);
            Ok(false)
        })?;
        Ok(out)
    }

    pub fn query_one(&mut self, sql: &str, params: &[P<'_>]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Corrupt("a query returned no row".into()))
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    ///
    /// On SQLite the transaction takes the write lock at once (`BEGIN IMMEDIATE`, waiting up to
    /// the busy timeout): a deferred one that reads and then writes fails at once, with
    /// SQLITE_BUSY_SNAPSHOT, when another connection (a running `ward serve`, say) committed in
    /// between, and no timeout helps it.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let begin = match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Postgres(_) => "BEGIN",
        };
        self.batch(begin)?;
        match f(self) {
            Ok(v) => match self.batch("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.batch("ROLLBACK");
                    Err(e)
                }
            },
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
