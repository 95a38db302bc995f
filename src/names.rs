//! Name and pattern rules of current KES (kes-api.md §1.5).

/// `validName`: 1–80 bytes of `[0-9A-Za-z_-]`, `-` not first or last, not `_` alone.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name != "_"
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `validPattern`: empty (= all), or the name characters plus `*` only as the
/// last character, at most 80 bytes.
pub fn valid_pattern(pattern: &str) -> bool {
    if pattern.is_empty() || pattern == "*" {
        return true;
    }
    let body = pattern.strip_suffix('*').unwrap_or(pattern);
    pattern.len() <= 80
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The prefix a list pattern stands for: one trailing `*` is stripped
/// (project decision a; `*` or empty = all).
pub fn pattern_prefix(pattern: &str) -> &str {
    pattern.strip_suffix('*').unwrap_or(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "my-key", "my_key", "A9", "a-b", "__", &"x".repeat(80)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "_",
            "-a",
            "a-",
            "a/b",
            "../x",
            "a.b",
            "é",
            "a b",
            "a*",
            &"x".repeat(81),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn patterns() {
        for good in ["", "*", "my-*", "key", "-x*"] {
            assert!(valid_pattern(good), "{good}");
        }
        for bad in ["*a", "a*b", "a/*", "../*", "é*", "**"] {
            assert!(!valid_pattern(bad), "{bad}");
        }
        assert_eq!(pattern_prefix("my-*"), "my-");
        assert_eq!(pattern_prefix("*"), "");
        assert_eq!(pattern_prefix("k"), "k");
    }
}
