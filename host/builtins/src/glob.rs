//! Glob patterns for guard rails and review gates: `*` matches any run of characters except
//! `/`, `**` any run including `/`, `?` one character other than `/`; everything else matches
//! itself.

/// Whether `text` matches `pattern` as a whole.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic backtracking matcher with one saved position per star kind; patterns are short.
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') if p.get(1) == Some(&'*') => {
                let rest = &p[2..];
                // `**/` also matches no directory at all: `**/*.pem` matches `key.pem`.
                (rest.first() == Some(&'/') && go(&rest[1..], t))
                    || (0..=t.len()).any(|i| go(rest, &t[i..]))
            }
            Some('*') => {
                let rest = &p[1..];
                let mut i = 0;
                loop {
                    if go(rest, &t[i..]) {
                        return true;
                    }
                    if i == t.len() || t[i] == '/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some('?') => t.first().is_some_and(|c| *c != '/') && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_questions() {
        assert!(matches("github.com/acme/*", "github.com/acme/api"));
        assert!(!matches("github.com/acme/*", "github.com/acme/api/sub"));
        assert!(matches("github.com/acme/**", "github.com/acme/api/sub"));
        assert!(!matches("github.com/acme/*", "github.com/other/api"));
        assert!(matches("**/*.pem", "deploy/keys/server.pem"));
        assert!(matches("**/*.pem", "server.pem"));
        assert!(!matches("**/*.pem", "server.pem.txt"));
        assert!(matches("*.env", ".env"));
        assert!(!matches("*.env", "config/.env"));
        assert!(matches("v?.txt", "v1.txt"));
        assert!(!matches("v?.txt", "v10.txt"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
    }
}
