//! Environment files (`<environment file>`), read the way systemd reads `EnvironmentFile=`:
//! `KEY=VALUE` lines; blank lines and lines starting with `#` or `;` are skipped; whitespace
//! around the key and before the value is dropped, and so is trailing whitespace of an unquoted
//! value; `'single'` quotes keep everything, `"double"` quotes take `\"`, `\\`, `\$` and
//! `` \` `` as escapes (another `\x` stays as it is); a `\` before a newline joins the lines,
//! and outside quotes `\x` is `x`. Stricter than systemd, which skips what it cannot read: a
//! line without `=`, a bad name, an unclosed quote, a NUL or non-UTF-8 text is an error naming
//! the file and the line, so a start never runs with half a file.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest environment file read, in bytes.
pub const MAX_BYTES: u64 = 1 << 20;

/// Reads the file at `path` and returns its variables in order; the error is
/// `PATH:LINE: reason` (`PATH: reason` when the file cannot be read at all).
pub fn read(path: &Path) -> Result<Vec<(String, String)>, String> {
    let shown = path.display();
    let bytes = read_bytes(path).map_err(|reason| format!("{shown}: {reason}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        format!("{shown}:{line}: not UTF-8")
    })?;
    parse(&text).map_err(|(line, reason)| format!("{shown}:{line}: {reason}"))
}

/// The file's bytes: a regular file (opened without waiting, should it be a FIFO), at most
/// [`MAX_BYTES`].
fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| e.to_string())?;
    let metadata = file.metadata().map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!("larger than {MAX_BYTES} bytes"));
    }
    Ok(bytes)
}

/// Where the parser is, between characters.
#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Before a key (blank so far).
    Line,
    Key,
    /// After `=`, before the value or between its quoted parts.
    BeforeValue,
    Value,
    ValueEscape,
    Single,
    Double,
    DoubleEscape,
    Comment,
}

/// An assignment being read: its key, its value and the line it starts on.
#[derive(Default)]
struct Assignment {
    key: String,
    value: String,
    line: usize,
    /// Where trailing whitespace of an unquoted value starts, if it does.
    blank_from: Option<usize>,
}

/// The variables of `text`, or the line of the first problem and what it is.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut variables = Vec::new();
    let mut state = State::Line;
    let mut line = 1;
    let mut current = Assignment::default();
    let mut quote_line = 0;
    for c in text.chars() {
        if c == '\0' {
            return Err((line, "a NUL character".into()));
        }
        state = match (state, c) {
            (State::Line, '#' | ';') => State::Comment,
            (State::Line, ' ' | '\t' | '\r' | '\n') => State::Line,
            (State::Line, c) => {
                current = Assignment {
                    line,
                    ..Assignment::default()
                };
                current.key.push(c);
                State::Key
            }
            (State::Key, '\n') => {
                return Err((line, format!("`{}` has no `=`", current.key.trim_end())));
            }
            (State::Key, '=') => State::BeforeValue,
            (State::Key, c) => {
                current.key.push(c);
                State::Key
            }
            (State::BeforeValue | State::Value, '\n') => {
                variables.push(finish(&mut current)?);
                State::Line
            }
            (State::BeforeValue | State::Value, '\\') => State::ValueEscape,
            (State::BeforeValue, '\'') => {
                quote_line = line;
                State::Single
            }
            (State::BeforeValue, '"') => {
                quote_line = line;
                State::Double
            }
            (State::BeforeValue, ' ' | '\t' | '\r') => State::BeforeValue,
            (State::BeforeValue | State::Value, c) => {
                match (c, current.blank_from) {
                    (' ' | '\t' | '\r', None) => current.blank_from = Some(current.value.len()),
                    (' ' | '\t' | '\r', Some(_)) => {}
                    _ => current.blank_from = None,
                }
                current.value.push(c);
                State::Value
            }
            (State::ValueEscape, c) => {
                current.blank_from = None;
                if c != '\n' {
                    current.value.push(c);
                }
                State::Value
            }
            (State::Single, '\'') => State::BeforeValue,
            (State::Double, '"') => State::BeforeValue,
            (State::Double, '\\') => State::DoubleEscape,
            (State::Single | State::Double, c) => {
                current.value.push(c);
                state
            }
            (State::DoubleEscape, c) => {
                match c {
                    '"' | '\\' | '`' | '$' => current.value.push(c),
                    '\n' => {}
                    c => {
                        current.value.push('\\');
                        current.value.push(c);
                    }
                }
                State::Double
            }
            (State::Comment, '\n') => State::Line,
            (State::Comment, _) => State::Comment,
        };
        if c == '\n' {
            line += 1;
        }
    }
    match state {
        State::Line | State::Comment => {}
        State::Key => return Err((line, format!("`{}` has no `=`", current.key.trim_end()))),
        State::Single | State::Double | State::DoubleEscape => {
            return Err((quote_line, "the quote opened here is never closed".into()));
        }
        State::BeforeValue | State::Value | State::ValueEscape => {
            variables.push(finish(&mut current)?)
        }
    }
    Ok(variables)
}

/// The assignment read so far, its key checked and its value's trailing blanks dropped.
fn finish(current: &mut Assignment) -> Result<(String, String), (usize, String)> {
    let key = current.key.trim_end().to_string();
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let reason = format!(
            "`{key}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        );
        return Err((current.line, reason));
    }
    let mut value = std::mem::take(&mut current.value);
    if let Some(blank) = current.blank_from.take() {
        value.truncate(blank);
    }
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    fn pair(key: &str, value: &str) -> (String, String) {
        (key.to_string(), value.to_string())
    }

    #[test]
    fn plain_lines_comments_and_blanks() {
        let text = "# comment\n; another\n\n  A=1\nB = two words  \nC=\nD=x#not a comment";
        assert_eq!(
            vars(text),
            [
                pair("A", "1"),
                pair("B", "two words"),
                pair("C", ""),
                pair("D", "x#not a comment")
            ]
        );
    }

    #[test]
    fn quotes_and_escapes_as_systemd_reads_them() {
        let text = concat!(
            "S='a \"b\" $c \\n'\n",
            "D=\"a \\\"b\\\" \\$c \\n \\\\\"\n",
            "J=\"one\\\ntwo\"\n",
            "U=one\\\ntwo\n",
            "M='multi\nline'\n",
            "X=\\ lead\n",
            "Q=  'kept  '  \n",
        );
        assert_eq!(
            vars(text),
            [
                pair("S", "a \"b\" $c \\n"),
                pair("D", "a \"b\" $c \\n \\"),
                pair("J", "onetwo"),
                pair("U", "onetwo"),
                pair("M", "multi\nline"),
                pair("X", " lead"),
                pair("Q", "kept  "),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line() {
        assert_eq!(parse("A=1\nnoequals\nB=2").unwrap_err().0, 2);
        assert_eq!(
            parse("A=1\n\nB='open\n\n").unwrap_err(),
            (3, "the quote opened here is never closed".into())
        );
        let (line, reason) = parse("A=1\n1BAD=x\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(reason.contains("`1BAD` is not a variable name"), "{reason}");
        assert_eq!(parse("A=1\nB=\0").unwrap_err().0, 2);
        assert_eq!(parse("TRAILING").unwrap_err().0, 1);
    }
}
