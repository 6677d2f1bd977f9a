//! Query results as `psql` prints them (aligned, with a header rule and a row count) and as CSV exports.

use super::words::{CITIES, FIRST, LAST, PRODUCTS, STATUSES};
use super::{Rng, Writer, secrets};

const COLUMNS: &[&str] = &[
    "order_id",
    "order_no",
    "customer",
    "city",
    "created_at",
    "amount",
    "qty",
    "status",
    "product",
    "note",
];
/// Columns printed right-aligned, as psql does for numbers.
const NUMERIC: &[bool] = &[
    true, false, false, false, false, true, true, false, false, false,
];
const NOTES: &[&str] = &[
    "",
    "",
    "",
    "",
    "gift wrap",
    "leave at door",
    "call on arrival",
    "B2B",
];

/// One order row; `note` carries the secret when one is due.
fn row(rng: &mut Rng, secret: bool) -> Vec<String> {
    let note = if secret {
        secrets::cell(rng)
    } else {
        (*rng.pick(NOTES)).to_owned()
    };
    vec![
        rng.range(100_000, 9_999_999).to_string(),
        format!("ORD-2026-{:06}", rng.below(1_000_000)),
        format!("{} {}", rng.pick(FIRST), rng.pick(LAST)),
        (*rng.pick(CITIES)).to_owned(),
        format!("{} {}", rng.date(), rng.time()),
        rng.amount(),
        rng.range(1, 12).to_string(),
        (*rng.pick(STATUSES)).to_owned(),
        (*rng.pick(PRODUCTS)).to_owned(),
        note,
    ]
}

fn rows(w: &mut Writer, n: u64) -> Vec<Vec<String>> {
    (0..n)
        .map(|_| {
            let secret = w.secret_due();
            row(&mut w.rng, secret)
        })
        .collect()
}

/// A `SELECT … FROM orders` result of 10–60 rows, aligned the way psql aligns it.
pub fn psql_block(w: &mut Writer) {
    let n = w.rng.range(10, 60);
    let body = rows(w, n);
    let width = |i: usize| {
        body.iter()
            .map(|r| r[i].chars().count())
            .chain([COLUMNS[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..COLUMNS.len()).map(width).collect();
    let mut s = format!(
        "shop=> SELECT * FROM orders WHERE created_at >= '2026-11-{:02}' ORDER BY order_id LIMIT {n};\n",
        w.rng.range(1, 25)
    );
    let header: Vec<String> = COLUMNS
        .iter()
        .zip(&widths)
        .map(|(c, &wd)| format!(" {c:^wd$} "))
        .collect();
    s.push_str(&header.join("|"));
    s.push('\n');
    let rule: Vec<String> = widths.iter().map(|&wd| "-".repeat(wd + 2)).collect();
    s.push_str(&rule.join("+"));
    s.push('\n');
    for r in &body {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .zip(NUMERIC)
            .map(|((v, &wd), &num)| match num {
                true => format!(" {v:>wd$} "),
                false => format!(" {v:<wd$} "),
            })
            .collect();
        s.push_str(cells.join("|").trim_end());
        s.push('\n');
    }
    s.push_str(&format!("({n} rows)\n\n"));
    w.push(&s);
}

/// A CSV export of 20–100 rows with a header; text fields quoted where they may hold commas.
pub fn csv_block(w: &mut Writer) {
    let n = w.rng.range(20, 100);
    let body = rows(w, n);
    let mut s = COLUMNS.join(",");
    s.push('\n');
    for r in &body {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, v)| match i {
                2 | 8 | 9 if !v.is_empty() => format!("\"{}\"", v.replace('"', "\"\"")),
                _ => v.clone(),
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    w.push(&s);
}
