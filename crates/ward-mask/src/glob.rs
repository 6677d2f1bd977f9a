//! Case-insensitive `*`/`?` globs: column names (`*password*`, `customers.email`, `*.ssn`),
//! HTTP paths (`/admin/*`).

/// Whether `text` matches `pattern`, ignoring ASCII case. `*` matches any run (also empty), `?` one
/// character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    // Iterative matcher with single-star backtracking: linear in practice, no recursion on long names.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*password*", "user_password_hash"));
        assert!(glob_match("*password*", "PASSWORD"));
        assert!(glob_match("customers.email", "Customers.Email"));
        assert!(glob_match("*.ssn", "people.ssn"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(!glob_match("*ssn*", "session_id"));
        assert!(!glob_match("customers.email", "customers.email2"));
        assert!(glob_match("*", ""));
    }
}
