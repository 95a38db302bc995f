//! `${VAR}` substitution in `server-config.yaml`, as KES does it.
//!
//! A YAML scalar whose whole (trimmed, optionally quoted) value is `${NAME}` is
//! replaced by the environment variable `NAME` before the YAML is decoded.
//! There is no partial interpolation: `foo-${X}` stays literal. A variable
//! that is not set is an error naming the variable and its line.

use std::fmt::Write as _;

/// A `${NAME}` whose variable is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: referenced env. variable '{name}' not found")]
pub struct MissingVar {
    /// 1-based line number in the config file.
    pub line: usize,
    /// The variable name.
    pub name: String,
}

/// Replaces every whole-value `${NAME}` in `text`, looking names up with `lookup`.
///
/// Substituted values are written as YAML double-quoted strings unless they are
/// plain words (letters, digits and `._:/-`), so a value can never inject YAML
/// structure.
pub fn substitute(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, MissingVar> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        match find_reference(line) {
            Some((start, end, name)) => {
                let value = lookup(name).ok_or_else(|| MissingVar {
                    line: index + 1,
                    name: name.to_owned(),
                })?;
                out.push_str(&line[..start]);
                push_yaml_scalar(&mut out, &value);
                out.push_str(&line[end..]);
            }
            None => out.push_str(line),
        }
    }
    Ok(out)
}

/// Finds a whole-value `${NAME}` on one line: after `key:` or `- `, optionally
/// quoted, followed only by whitespace or a comment. Returns the byte range to
/// replace (including quotes) and the variable name.
fn find_reference(line: &str) -> Option<(usize, usize, &str)> {
    let body = line.trim_end_matches(['\n', '\r']);
    // Where the value starts: after the last "key:" separator or a list dash.
    let value_start = value_start(body)?;
    let rest = &body[value_start..];
    let leading = rest.len() - rest.trim_start().len();
    let start = value_start + leading;
    let value = &body[start..];
    let (quote, inner_start) = match value.as_bytes().first() {
        Some(b'"') => (Some('"'), 1),
        Some(b'\'') => (Some('\''), 1),
        _ => (None, 0),
    };
    let inner = &value[inner_start..];
    let inner = inner.strip_prefix("${")?;
    let close = inner.find('}')?;
    let name = &inner[..close];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let mut end = start + inner_start + 2 + close + 1;
    if let Some(q) = quote {
        if !body[end..].starts_with(q) {
            return None;
        }
        end += 1;
    }
    let tail = body[end..].trim_start();
    if !(tail.is_empty() || tail.starts_with('#')) {
        return None;
    }
    Some((start, end, name))
}

fn value_start(body: &str) -> Option<usize> {
    let trimmed = body.trim_start();
    let indent = body.len() - trimmed.len();
    if trimmed.starts_with('#') {
        return None;
    }
    let after_dash = trimmed.strip_prefix("- ").map(|r| (indent + 2, r));
    let (offset, content) = after_dash.unwrap_or((indent, trimmed));
    // "key: value" → value starts after ": "
    if let Some(pos) = content.find(": ") {
        let key = &content[..pos];
        if !key.contains("${") {
            return Some(offset + pos + 2);
        }
    }
    if after_dash.is_some() {
        Some(offset)
    } else {
        None
    }
}

fn push_yaml_scalar(out: &mut String, value: &str) {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':'))
        && !value.starts_with(['-', ':', '/']);
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "ADMIN" => Some("abc123".into()),
            "PATH_WITH_SPACE" => Some("/tmp/a b".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn whole_values_are_replaced() {
        let src = "admin:\n  identity: ${ADMIN}\nkeys:\n  - \"${ADMIN}\"\npath: '${PATH_WITH_SPACE}' # c\n";
        let out = substitute(src, env).unwrap();
        assert_eq!(
            out,
            "admin:\n  identity: abc123\nkeys:\n  - abc123\npath: \"/tmp/a b\" # c\n"
        );
    }

    #[test]
    fn partial_values_stay_literal() {
        let src = "a: foo-${ADMIN}\nb: ${ADMIN}-x\n# c: ${NOPE}\n";
        assert_eq!(substitute(src, env).unwrap(), src);
    }

    #[test]
    fn missing_variable_names_its_line() {
        let err = substitute("a: 1\nb:\n  c: ${NOPE}\n", env).unwrap_err();
        assert_eq!(
            err,
            MissingVar {
                line: 3,
                name: "NOPE".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "line 3: referenced env. variable 'NOPE' not found"
        );
    }

    #[test]
    fn empty_value_is_quoted() {
        assert_eq!(substitute("a: ${EMPTY}\n", env).unwrap(), "a: \"\"\n");
    }
}
