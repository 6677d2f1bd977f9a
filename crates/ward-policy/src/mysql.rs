//! How MySQL reads SQL where the SQL parser does not follow it, and what Ward looks for in a
//! MySQL statement's words: executable comments (`/*! … */`, MariaDB's `/*M! … */`), whose
//! contents the server runs; `LOAD DATA LOCAL`; `KILL`.

use std::borrow::Cow;

use sqlparser::tokenizer::{Token, Tokenizer};

use crate::kind::Dialect;

/// The text with MySQL's and MariaDB's executable comments opened: `/*!`, `/*!50110`,
/// `/*M!100100` and their `*/` become spaces, so what the server runs is what Ward reads.
/// Strings, quoted names and ordinary comments are left as they are.
pub fn open_executable_comments(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.windows(3).any(|w| w == b"/*!") && !text.windows(4).any(|w| w == b"/*M!") {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_vec();
    let mut i = 0;
    let mut executable = false;
    let at = |i: usize, s: &[u8]| text.get(i..i + s.len()) == Some(s);
    while i < text.len() {
        let c = text.get(i).copied().unwrap_or(0);
        match c {
            b'\'' | b'"' | b'`' => {
                // A quoted string or name: to its closing quote (doubled quotes and, outside
                // names, backslashes escape).
                i += 1;
                while i < text.len() {
                    let d = text.get(i).copied().unwrap_or(0);
                    if d == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if d == c {
                        if text.get(i) == Some(&c) {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                }
                continue;
            }
            b'#' => {
                while i < text.len() && text.get(i) != Some(&b'\n') {
                    i += 1;
                }
                continue;
            }
            b'-' if at(i, b"-- ") || at(i, b"--\t") || at(i, b"--\n") => {
                while i < text.len() && text.get(i) != Some(&b'\n') {
                    i += 1;
                }
                continue;
            }
            b'*' if executable && at(i, b"*/") => {
                blank(&mut out, i, 2);
                executable = false;
                i += 2;
                continue;
            }
            b'/' if !executable && (at(i, b"/*!") || at(i, b"/*M!")) => {
                let marker = if at(i, b"/*!") { 3 } else { 4 };
                let mut end = i + marker;
                while text.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                blank(&mut out, i, end - i);
                executable = true;
                i = end;
                continue;
            }
            b'/' if at(i, b"/*") => {
                // An ordinary comment, to its end.
                i += 2;
                while i < text.len() && !at(i, b"*/") {
                    i += 1;
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Cow::Owned(out)
}

fn blank(out: &mut [u8], from: usize, len: usize) {
    if let Some(bytes) = out.get_mut(from..from + len) {
        bytes.fill(b' ');
    }
}

/// The first words of each statement of `sql` (lowercase, up to four; a word that is a number
/// is kept as it is, anything else ends the words), with the statements inside `PREPARE … FROM
/// '…'` and `EXECUTE IMMEDIATE '…'` read too. `None` when the text cannot be read as SQL.
pub fn statement_heads(sql: &[u8], dialect: Dialect) -> Option<Vec<Vec<String>>> {
    let opened = open_executable_comments(sql);
    let sql = String::from_utf8_lossy(&opened);
    let tokens = Tokenizer::new(dialect.parser().as_ref(), &sql)
        .tokenize()
        .ok()?;
    let mut heads = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut reading = true;
    let mut statement_started = false;
    for token in tokens {
        match token {
            Token::Whitespace(_) => continue,
            Token::SemiColon => {
                if statement_started {
                    heads.push(std::mem::take(&mut words));
                }
                statement_started = false;
                reading = true;
                continue;
            }
            Token::Word(w) if reading && words.len() < 4 => {
                words.push(w.value.to_ascii_lowercase())
            }
            Token::Number(n, _) if reading && words.len() < 4 => words.push(n),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)
                if matches!(
                    words
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .as_slice(),
                    ["prepare", _, "from"] | ["execute", "immediate"]
                ) =>
            {
                heads.extend(statement_heads(s.as_bytes(), dialect)?);
                reading = false;
            }
            _ => reading = false,
        }
        statement_started = true;
    }
    if statement_started {
        heads.push(words);
    }
    Some(heads)
}

/// Whether a statement of `sql` sends a file from the client's machine to the server (MySQL's
/// `LOAD DATA LOCAL INFILE`, `LOAD XML LOCAL INFILE`). Text that cannot be read counts as
/// one: it is refused, not let through.
pub fn loads_local_file(sql: &[u8], dialect: Dialect) -> bool {
    let Some(heads) = statement_heads(sql, dialect) else {
        return true;
    };
    heads.iter().any(|words| {
        matches!(
            words
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            ["load", "data" | "xml", "local", ..]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_comments_are_code() {
        let opened = open_executable_comments(b"SELECT 1 /*!50000 ; DROP TABLE t */");
        let expected = format!(
            "SELECT 1 {} ; DROP TABLE t {}",
            " ".repeat(8),
            " ".repeat(2)
        );
        assert_eq!(&*opened, expected.as_bytes());
        let opened = open_executable_comments(b"/*M!100100 KILL 5 */");
        assert_eq!(String::from_utf8_lossy(&opened).trim(), "KILL 5");
        // Inside strings and ordinary comments, nothing changes.
        for text in [
            &b"SELECT '/*! DROP */'"[..],
            b"SELECT 1 -- /*! DROP */",
            b"SELECT 1 # /*! DROP */",
            b"SELECT 1 /* /*! DROP */",
        ] {
            let opened = open_executable_comments(text);
            assert_eq!(&*opened, text);
        }
    }

    #[test]
    fn heads_of_each_statement() {
        let heads = statement_heads(
            b"/* hi */ KILL QUERY 42; select 1; PREPARE s FROM 'KILL 7'; EXECUTE IMMEDIATE \"kill 8\"",
            Dialect::Mysql,
        )
        .expect("reads");
        assert_eq!(
            heads,
            vec![
                vec!["kill", "query", "42"],
                vec!["select", "1"],
                vec!["kill", "7"],
                vec!["prepare", "s", "from"],
                vec!["kill", "8"],
                vec!["execute", "immediate"],
            ]
        );
        assert!(loads_local_file(
            b"load /* x */ data local infile 'a' into table t",
            Dialect::Mysql
        ));
        assert!(loads_local_file(
            b"SELECT 1; /*!LOAD DATA LOCAL INFILE 'a' INTO TABLE t*/",
            Dialect::Mysql
        ));
        assert!(!loads_local_file(
            b"LOAD DATA INFILE 'a' INTO TABLE t",
            Dialect::Mysql
        ));
        assert!(!loads_local_file(
            b"SELECT 'load data local'",
            Dialect::Mysql
        ));
    }
}
