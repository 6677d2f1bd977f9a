//! Cell masking for database rows: a per-column plan made once per result, then applied to each cell.

use crate::glob::glob_match;
use crate::masker::Masker;
use crate::replace::{Replacement, render};
use crate::report::MaskReport;
use std::borrow::Cow;
use std::sync::Arc;

/// A result column as the protocol describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnRef<'a> {
    /// The source table, if known (`customers` or `public.customers`).
    pub table: Option<&'a str>,
    /// The column name (or alias) as sent to the client.
    pub column: &'a str,
    /// The column's name in its source table, when the result says which table column it is:
    /// `password` for `SELECT password AS p FROM users`.
    pub source: Option<&'a str>,
}

impl<'a> ColumnRef<'a> {
    /// A column with its table.
    pub fn new(table: Option<&'a str>, column: &'a str) -> Self {
        Self {
            table,
            column,
            source: None,
        }
    }

    /// A column shown as `label` that is column `column` of table `table`.
    pub fn of_table(label: &'a str, table: &'a str, column: &'a str) -> Self {
        Self {
            table: Some(table),
            column: label,
            source: Some(column),
        }
    }
}

/// A compiled column rule.
#[derive(Debug, Clone)]
pub(crate) struct ColumnRule {
    pub pattern: String,
    pub name: Arc<str>,
    pub replacement: Replacement,
}

impl ColumnRule {
    /// Patterns with a `.` match `table.column` (also with the table's schema dropped), the
    /// column named as in its table when that is known; others match the name the result gives
    /// the column or, when known, its name in its table: an alias hides neither.
    fn matches(&self, col: &ColumnRef<'_>) -> bool {
        if !self.pattern.contains('.') {
            return glob_match(&self.pattern, col.column)
                || col.source.is_some_and(|s| glob_match(&self.pattern, s));
        }
        let Some(table) = col.table else {
            return false;
        };
        let column = col.source.unwrap_or(col.column);
        let bare = table.rsplit('.').next().unwrap_or(table);
        glob_match(&self.pattern, &format!("{table}.{column}"))
            || (bare != table && glob_match(&self.pattern, &format!("{bare}.{column}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Run the value detectors over the cell.
    Detect,
    /// Replace the whole cell using column rule `n`.
    Whole(usize),
}

/// How each column of one result is masked. Built by [`Masker::plan_columns`].
///
/// # Performance
/// Column rules are matched once here; per cell the cost is a whole-cell replacement or one detector
/// pass (borrowed output when nothing matched).
#[derive(Debug, Clone)]
pub struct CellPlan {
    masker: Masker,
    actions: Vec<Action>,
}

impl CellPlan {
    pub(crate) fn new(masker: Masker, columns: &[ColumnRef<'_>]) -> Self {
        let actions = columns
            .iter()
            .map(|c| match masker.columns.iter().position(|r| r.matches(c)) {
                Some(i) => Action::Whole(i),
                None => Action::Detect,
            })
            .collect();
        Self { masker, actions }
    }

    /// Masks the cell in column `column` (0-based). A column index beyond the plan gets the value
    /// detectors, never a free pass.
    pub fn mask_cell<'a>(
        &self,
        column: usize,
        value: &'a [u8],
        report: &mut MaskReport,
    ) -> Cow<'a, [u8]> {
        match self.actions.get(column).copied().unwrap_or(Action::Detect) {
            Action::Detect => self.masker.mask(value, report),
            Action::Whole(i) => match self.masker.columns.get(i) {
                Some(rule) => {
                    let mut out = Vec::new();
                    render(
                        rule.replacement,
                        &rule.name,
                        self.masker.set.key.as_ref(),
                        value,
                        &mut out,
                    );
                    report.add(&rule.name);
                    Cow::Owned(out)
                }
                None => self.masker.mask(value, report),
            },
        }
    }

    /// The column rule that masks column `column` entirely, if any.
    pub fn column_rule(&self, column: usize) -> Option<&str> {
        match self.actions.get(column)? {
            Action::Whole(i) => self.masker.columns.get(*i).map(|r| &*r.name),
            Action::Detect => None,
        }
    }

    /// Number of planned columns.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True for a plan of zero columns.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}
