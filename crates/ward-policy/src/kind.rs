//! Statement kinds a guardrail can deny, and how they are found in a parsed statement.

use serde::Deserialize;
use sqlparser::ast::{CopyTarget, Query, SetExpr, Statement};

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
        }
    }
}

/// Appends the denied-able kinds `statement` is or runs: statements inside `EXPLAIN ANALYZE`,
/// `PREPARE` and data-modifying `WITH` queries count, since they run.
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
        Statement::Explain {
            statement,
            analyze: true,
            ..
        }
        | Statement::Prepare { statement, .. } => kinds_of(statement, out),
        Statement::Query(q) => query_kinds(q, out),
        Statement::Insert(i) => {
            if let Some(source) = &i.source {
                query_kinds(source, out);
            }
        }
        _ => {}
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
