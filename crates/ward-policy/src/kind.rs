//! Statement kinds a guardrail can deny, and how they are found in a parsed statement.

use serde::Deserialize;
use sqlparser::ast::{
    AlterTableOperation, CopyTarget, Expr, MergeAction, Query, SetExpr, Statement, UtilityOption,
    Value,
};

/// A kind of statement a guardrail can deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    /// `DROP` of anything (table, schema, function, …).
    Drop,
    Truncate,
    /// `ALTER ROLE` / `ALTER USER`.
    AlterRole,
    DeleteWithoutWhere,
    UpdateWithoutWhere,
    /// `COPY … TO PROGRAM` / `COPY … FROM PROGRAM`.
    CopyProgram,
    /// A fast-path function call (PostgreSQL's FunctionCall message, behind libpq's
    /// large-object API), which no SQL text describes.
    FunctionCall,
    /// `COPY … TO 'file'` / `COPY … FROM 'file'` (PostgreSQL), `SELECT … INTO OUTFILE` /
    /// `DUMPFILE` and `LOAD DATA INFILE` without `LOCAL` (MySQL): a file on the database server.
    CopyFile,
    /// `MERGE … WHEN … THEN DELETE`.
    MergeDelete,
    /// Code whose body Ward does not check when it is defined: `DO` blocks, and `CREATE
    /// FUNCTION` / `CREATE PROCEDURE` (the body runs when it is called).
    Code,
    /// `GRANT` of privileges or roles.
    Grant,
    /// `CREATE USER` / `CREATE ROLE`.
    CreateUser,
}

impl StatementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::Drop => "drop",
            StatementKind::Truncate => "truncate",
            StatementKind::AlterRole => "alter_role",
            StatementKind::DeleteWithoutWhere => "delete_without_where",
            StatementKind::UpdateWithoutWhere => "update_without_where",
            StatementKind::CopyProgram => "copy_program",
            StatementKind::FunctionCall => "function_call",
            StatementKind::CopyFile => "copy_file",
            StatementKind::MergeDelete => "merge_delete",
            StatementKind::Code => "code",
            StatementKind::Grant => "grant",
            StatementKind::CreateUser => "create_user",
        }
    }

    /// `a DROP`, …, for messages.
    pub fn described(self) -> &'static str {
        match self {
            StatementKind::Drop => "a DROP",
            StatementKind::Truncate => "a TRUNCATE",
            StatementKind::AlterRole => "an ALTER ROLE",
            StatementKind::DeleteWithoutWhere => "a DELETE without WHERE",
            StatementKind::UpdateWithoutWhere => "an UPDATE without WHERE",
            StatementKind::CopyProgram => "a COPY with PROGRAM",
            StatementKind::FunctionCall => "a fast-path function call",
            StatementKind::CopyFile => {
                "a COPY, SELECT … INTO OUTFILE or LOAD DATA to or from a file on the server"
            }
            StatementKind::MergeDelete => "a MERGE that deletes rows",
            StatementKind::Code => "a DO block or a function or procedure definition",
            StatementKind::Grant => "a GRANT",
            StatementKind::CreateUser => "a CREATE USER or CREATE ROLE",
        }
    }
}

/// Appends the denied-able kinds `statement` is or runs: statements inside `EXPLAIN ANALYZE`
/// (in either spelling), `PREPARE` and data-modifying `WITH` queries count, since they run.
pub(crate) fn kinds_of(statement: &Statement, out: &mut Vec<StatementKind>) {
    match statement {
        Statement::Drop { .. }
        | Statement::DropFunction(_)
        | Statement::DropDomain(_)
        | Statement::DropProcedure { .. }
        | Statement::DropSecret { .. }
        | Statement::DropPolicy(_)
        | Statement::DropRule(_)
        | Statement::DropConnector { .. }
        | Statement::DropExtension(_)
        | Statement::DropOperator(_)
        | Statement::DropOperatorFamily(_)
        | Statement::DropOperatorClass(_)
        | Statement::DropTrigger(_) => out.push(StatementKind::Drop),
        Statement::Truncate(_) => out.push(StatementKind::Truncate),
        Statement::AlterRole { .. } | Statement::AlterUser(_) => out.push(StatementKind::AlterRole),
        Statement::Delete(d) if d.selection.is_none() => {
            out.push(StatementKind::DeleteWithoutWhere)
        }
        Statement::Update(u) if u.selection.is_none() => {
            out.push(StatementKind::UpdateWithoutWhere)
        }
        Statement::Copy {
            target: CopyTarget::Program { .. },
            ..
        } => out.push(StatementKind::CopyProgram),
        Statement::Copy {
            target: CopyTarget::File { .. },
            ..
        } => out.push(StatementKind::CopyFile),
        Statement::AlterTable(alter)
            if alter
                .operations
                .iter()
                .any(|op| matches!(op, AlterTableOperation::DropColumn { .. })) =>
        {
            out.push(StatementKind::Drop)
        }
        Statement::Merge(merge)
            if merge
                .clauses
                .iter()
                .any(|c| matches!(c.action, MergeAction::Delete { .. })) =>
        {
            out.push(StatementKind::MergeDelete)
        }
        Statement::CreateFunction(_) | Statement::CreateProcedure { .. } => {
            out.push(StatementKind::Code)
        }
        Statement::Grant(_) => out.push(StatementKind::Grant),
        Statement::CreateUser(_) | Statement::CreateRole(_) => out.push(StatementKind::CreateUser),
        Statement::LoadData { local: false, .. } => out.push(StatementKind::CopyFile),
        Statement::Explain {
            statement,
            analyze,
            options,
            ..
        } if *analyze || options.as_deref().is_some_and(analyzes) => kinds_of(statement, out),
        Statement::Prepare { statement, .. } => kinds_of(statement, out),
        Statement::Query(q) => query_kinds(q, out),
        Statement::Insert(i) => {
            if let Some(source) = &i.source {
                query_kinds(source, out);
            }
        }
        _ => {}
    }
}

/// Whether `EXPLAIN (…)` options run the statement: `ANALYZE`, `ANALYZE true`, `ANALYZE on`,
/// `ANALYZE 1` (PostgreSQL's boolean spellings); not `ANALYZE false`, `off` or `0`. The last of
/// repeated options counts, as in PostgreSQL.
fn analyzes(options: &[UtilityOption]) -> bool {
    options
        .iter()
        .rfind(|o| o.name.value.eq_ignore_ascii_case("analyze"))
        .is_some_and(|o| match &o.arg {
            None => true,
            Some(Expr::Value(v)) => match &v.value {
                Value::Boolean(b) => *b,
                Value::Number(n, _) => n != "0",
                Value::SingleQuotedString(s) => !is_false(s),
                _ => true,
            },
            Some(Expr::Identifier(id)) => !is_false(&id.value),
            // Anything else: PostgreSQL would refuse it or run it; assume it runs.
            Some(_) => true,
        })
}

fn is_false(word: &str) -> bool {
    ["false", "off", "no", "0", "f", "n"]
        .iter()
        .any(|f| word.eq_ignore_ascii_case(f))
}

/// Kinds found in the text itself when it cannot be parsed (the parser knows no `DO`, and no
/// procedural bodies): a statement that starts `DO`, or `CREATE [OR REPLACE] FUNCTION` or
/// `PROCEDURE`.
pub(crate) fn lexical_kinds(sql: &str, dialect: Dialect, out: &mut Vec<StatementKind>) {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(dialect.parser().as_ref(), sql).tokenize() else {
        return;
    };
    // The word before this one, for `INTO OUTFILE` anywhere in a statement.
    let mut previous = String::new();
    // The first words of the statement being read (up to four).
    let mut words: Vec<String> = Vec::new();
    let mut reading = true;
    for token in tokens {
        match token {
            Token::Whitespace(_) => continue,
            Token::SemiColon => {
                words.clear();
                reading = true;
                continue;
            }
            Token::Word(w) => {
                let word = w.value.to_ascii_lowercase();
                if dialect == Dialect::Mysql
                    && previous == "into"
                    && (word == "outfile" || word == "dumpfile")
                {
                    out.push(StatementKind::CopyFile);
                }
                if reading && words.len() < 4 {
                    words.push(word.clone());
                } else {
                    reading = false;
                }
                previous = word;
            }
            _ => {
                reading = false;
                previous.clear();
            }
        }
        if reading && starts_code(&words) {
            out.push(StatementKind::Code);
            reading = false;
        }
        if reading && dialect == Dialect::Mysql {
            match words.as_slice() {
                [grant] if grant == "grant" => out.push(StatementKind::Grant),
                [create, who] if create == "create" && (who == "user" || who == "role") => {
                    out.push(StatementKind::CreateUser)
                }
                [load, data, infile] if load == "load" && data == "data" && infile == "infile" => {
                    out.push(StatementKind::CopyFile)
                }
                _ => continue,
            }
            reading = false;
        }
    }
}

/// The SQL a guardrail reads statements as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    /// MySQL and MariaDB: backticks, `#` comments, backslash escapes in strings.
    Mysql,
}

impl Dialect {
    pub(crate) fn parser(self) -> Box<dyn sqlparser::dialect::Dialect> {
        match self {
            Dialect::Postgres => Box::new(sqlparser::dialect::PostgreSqlDialect {}),
            Dialect::Mysql => Box::new(sqlparser::dialect::MySqlDialect {}),
        }
    }

    /// Settings that change how string literals lex: after one is set, what Ward parses and
    /// what the server runs can differ.
    pub(crate) fn lexing_settings(self) -> &'static [&'static str] {
        match self {
            Dialect::Postgres => &["standard_conforming_strings", "backslash_quote"],
            // `sql_mode` turns on ANSI_QUOTES and NO_BACKSLASH_ESCAPES.
            Dialect::Mysql => &["sql_mode"],
        }
    }
}

/// `DO`, `CREATE FUNCTION`, `CREATE PROCEDURE`, `CREATE OR REPLACE FUNCTION|PROCEDURE`.
fn starts_code(words: &[String]) -> bool {
    let routine = |w: &String| w == "function" || w == "procedure";
    match words {
        [first] => first == "do",
        [create, kind] => create == "create" && routine(kind),
        [create, or, replace, kind] => {
            create == "create" && or == "or" && replace == "replace" && routine(kind)
        }
        _ => false,
    }
}

fn query_kinds(q: &Query, out: &mut Vec<StatementKind>) {
    if let Some(with) = &q.with {
        for cte in &with.cte_tables {
            query_kinds(&cte.query, out);
        }
    }
    set_expr_kinds(&q.body, out);
}

fn set_expr_kinds(e: &SetExpr, out: &mut Vec<StatementKind>) {
    match e {
        SetExpr::Delete(s) | SetExpr::Update(s) | SetExpr::Insert(s) | SetExpr::Merge(s) => {
            kinds_of(s, out)
        }
        SetExpr::Query(q) => query_kinds(q, out),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_kinds(left, out);
            set_expr_kinds(right, out);
        }
        _ => {}
    }
}
