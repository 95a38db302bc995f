//! The key-name pattern of `kes migrate`: KES matches names with Go's `filepath.Match`, and so do we.
//!
//! Syntax: `*` any run of characters, `?` any one character, `[…]` one character of a class (`[a-z0-9]`,
//! negated with `[^…]`), `\c` the character `c` itself. Unlike KES (which ignores the error and then matches
//! nothing), a malformed pattern is rejected up front with [`BadPattern`]. `/` is never part of a key name, so
//! the separator rule of `filepath.Match` makes no difference here.

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Glob {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// One given character.
    Lit(char),
    /// `?`: any one character.
    One,
    /// `*`: any run of characters, also empty.
    Star,
    /// `[…]`: one character inside (or, negated, outside) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A malformed pattern; the text says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern '{pattern}': {reason}")]
pub(super) struct BadPattern {
    pattern: String,
    reason: &'static str,
}

impl Glob {
    /// Parses `pattern` (Go `filepath.Match` syntax).
    ///
    /// # Errors
    /// [`BadPattern`] for an unterminated or empty class, a range endpoint that is an unescaped `-` or `]`, a
    /// reversed range, or a trailing `\`.
    pub(super) fn parse(pattern: &str) -> Result<Glob, BadPattern> {
        let bad = |reason| BadPattern {
            pattern: pattern.to_owned(),
            reason,
        };
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::Star,
                '?' => Token::One,
                '\\' => Token::Lit(chars.next().ok_or_else(|| bad("it ends with '\\'"))?),
                '[' => {
                    let negated = chars.next_if_eq(&'^').is_some();
                    let mut ranges = Vec::new();
                    loop {
                        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
                            break;
                        }
                        let lo = class_char(&mut chars).map_err(bad)?;
                        let hi = if chars.next_if_eq(&'-').is_some() {
                            class_char(&mut chars).map_err(bad)?
                        } else {
                            lo
                        };
                        if hi < lo {
                            return Err(bad("a character range is reversed"));
                        }
                        ranges.push((lo, hi));
                    }
                    Token::Class { negated, ranges }
                }
                c => Token::Lit(c),
            });
        }
        Ok(Glob { tokens })
    }

    /// Whether the whole of `name` matches.
    pub(super) fn matches(&self, name: &str) -> bool {
        let text: Vec<char> = name.chars().collect();
        let (mut p, mut i) = (0, 0);
        // The last `*` seen and the text position it is currently assumed to stretch to.
        let mut star: Option<(usize, usize)> = None;
        while let Some(&c) = text.get(i) {
            match self.tokens.get(p) {
                Some(Token::Star) => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                Some(token) if token.matches_one(c) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
            // Mismatch: let the last `*` swallow one more character, or fail.
            let Some((sp, si)) = star else {
                return false;
            };
            star = Some((sp, si + 1));
            p = sp + 1;
            i = si + 1;
        }
        self.tokens
            .get(p..)
            .is_some_and(|rest| rest.iter().all(|t| *t == Token::Star))
    }

    /// The literal characters every match starts with (`my-` for `my-*`): the prefix to list with.
    pub(super) fn literal_prefix(&self) -> String {
        self.tokens
            .iter()
            .map_while(|t| match t {
                Token::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }
}

impl Token {
    fn matches_one(&self, c: char) -> bool {
        match self {
            Token::Lit(l) => *l == c,
            Token::One => true,
            Token::Star => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

/// One (possibly escaped) character of a class; `-` and `]` must be escaped, as in Go.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, &'static str> {
    match chars.next() {
        None => Err("a '[' class is not closed"),
        Some('\\') => chars.next().ok_or("a '[' class is not closed"),
        Some('-' | ']') => Err("'-' or ']' in a class must be escaped with '\\'"),
        Some(c) => Ok(c),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use super::Glob;

    fn yes(pattern: &str, names: &[&str]) {
        let g = Glob::parse(pattern).unwrap();
        for n in names {
            assert!(g.matches(n), "{pattern:?} should match {n:?}");
        }
    }

    fn no(pattern: &str, names: &[&str]) {
        let g = Glob::parse(pattern).unwrap();
        for n in names {
            assert!(!g.matches(n), "{pattern:?} should not match {n:?}");
        }
    }

    #[test]
    fn go_filepath_match_semantics() {
        yes("*", &["", "a", "my-key"]);
        yes("my-*", &["my-", "my-key", "my-key-2"]);
        no("my-*", &["my", "xmy-key", "My-key"]);
        yes("*-1", &["a-1", "b-1", "-1", "a-1-1"]);
        no("*-1", &["a-10", "a1"]);
        yes("k-?", &["k-1", "k-a"]);
        no("k-?", &["k-", "k-10"]);
        yes("a*b*c", &["abc", "aXbYc", "abbc", "abcbc"]);
        no("a*b*c", &["acb", "abcx"]);
        yes("[a-c]*", &["a", "b-key", "c"]);
        no("[a-c]*", &["d", "A", ""]);
        yes("[^a-c]*", &["d", "z-key", "A"]);
        no("[^a-c]*", &["a", "b1"]);
        yes("[ax-z]", &["a", "x", "y", "z"]);
        no("[ax-z]", &["b", "w"]);
        yes("\\*", &["*"]);
        no("\\*", &["a"]);
        yes("[\\]\\-]", &["]", "-"]);
        yes("exact", &["exact"]);
        no("exact", &["exac", "exactly"]);
    }

    #[test]
    fn malformed_patterns_are_rejected_naming_the_problem() {
        for (p, reason) in [
            ("[", "a '[' class is not closed"),
            ("[a", "a '[' class is not closed"),
            ("[]", "'-' or ']' in a class must be escaped with '\\'"),
            ("[a-]", "'-' or ']' in a class must be escaped with '\\'"),
            ("[z-a]", "a character range is reversed"),
            ("a\\", "it ends with '\\'"),
        ] {
            let err = Glob::parse(p).unwrap_err();
            assert_eq!(err.to_string(), format!("invalid pattern '{p}': {reason}"));
        }
    }

    #[test]
    fn the_listing_prefix_is_the_leading_literal() {
        assert_eq!(Glob::parse("my-*").unwrap().literal_prefix(), "my-");
        assert_eq!(Glob::parse("*").unwrap().literal_prefix(), "");
        assert_eq!(Glob::parse("a\\*b?").unwrap().literal_prefix(), "a*b");
        assert_eq!(Glob::parse("ab[c]").unwrap().literal_prefix(), "ab");
        assert_eq!(Glob::parse("key").unwrap().literal_prefix(), "key");
    }
}
