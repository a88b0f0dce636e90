//! Registry errors: *where* (`path:line:col`) and *what*.
//!
//! Owns [`Diagnostic`] and [`RegistryError`], the byte-offset → line:column conversion, the
//! collector that gathers problems while the registry is checked, and the translation of
//! roxmltree's errors. It never decides what is valid; the walker and the resolver do.

use std::path::{Path, PathBuf};

use super::NODES_LIMIT;

/// At most this many diagnostics are reported; a broken file should not flood the terminal.
const MAX_DIAGNOSTICS: usize = 100;

/// Every problem found in a registry, in document order, each as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct RegistryError(pub Vec<Diagnostic>);

/// One problem at one place in the registry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{}:{}: {}", .path.display(), .line, .column, .message)]
pub struct Diagnostic {
    /// The registry file, as it was given.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters (as roxmltree counts them).
    pub column: u32,
    /// What is wrong, for an operator.
    pub message: String,
}

impl RegistryError {
    /// A registry error with a single diagnostic.
    pub fn single(path: &Path, (line, column): (u32, u32), message: impl Into<String>) -> Self {
        RegistryError(vec![Diagnostic {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }])
    }
}

/// Turns byte offsets of one text into 1-based (line, column) pairs.
///
/// Columns count characters, not bytes, exactly like `roxmltree::Document::text_pos_at`; unlike
/// it, a lookup costs a binary search instead of a scan from the start of the file. It keeps a
/// copy of the text, so that problems can be placed after the text itself is gone (an included
/// file is dropped once it has been walked).
pub struct LineIndex {
    text: Box<str>,
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub fn new(text: &str) -> Self {
        let newlines = text.bytes().enumerate().filter(|&(_, b)| b == b'\n');
        let starts = std::iter::once(0)
            .chain(newlines.map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            text: text.into(),
            starts,
        }
    }

    /// The (line, column) of the byte at `offset` (clamped to the text).
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&start| start <= offset);
        let column = self.text[self.starts[line - 1]..offset].chars().count() + 1;
        (saturate(line), saturate(column))
    }

    /// The 1-based line of the byte at `offset`.
    pub fn line(&self, offset: usize) -> u32 {
        self.position(offset).0
    }

    /// The byte offset of 1-based `line` and `column` (clamped to the text): the inverse of
    /// [`position`](Self::position).
    pub fn offset(&self, line: u32, column: u32) -> usize {
        let index = (line.max(1) as usize - 1).min(self.starts.len() - 1);
        let start = self.starts[index];
        let skip = column.max(1) as usize - 1;
        self.text[start..]
            .char_indices()
            .nth(skip)
            .map_or(self.text.len(), |(at, _)| start + at)
    }

    fn len(&self) -> usize {
        self.text.len()
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One file of the registry: the main file or an included one, and where its offsets begin
/// in the registry's one offset space.
struct Source {
    /// The file, as the operator would find it (the main file as given; an included one
    /// placed beside the file that includes it).
    path: PathBuf,
    base: usize,
    lines: LineIndex,
}

/// Problems gathered while a registry — its main file and the files it includes — is checked.
///
/// Every file gets a range of one offset space, the main file's starting at 0, so a position is
/// a single `usize` whichever file it is in. The walker works on one file at a time and reports
/// offsets into that file ([`enter`](Self::enter) says which); what it keeps for later is made
/// global first ([`global`](Self::global)). Once every file is walked, [`leave`](Self::leave)
/// makes reports take global offsets again, for the resolver.
pub struct Problems {
    sources: Vec<Source>,
    /// The base of the file being walked: reported offsets are relative to it.
    base: usize,
    /// Bytes the parser was given that the file does not have, `(at, length)`: an included
    /// file of bare elements is parsed wrapped in an element of its own, opened at `at`.
    inserted: Option<(usize, usize)>,
    /// The earliest problems at global offsets (at most a few times the cap: memory stays
    /// bounded however many a hostile document holds).
    found: Vec<(usize, String)>,
    /// How many distinct problems were reported in all.
    total: usize,
}

impl Problems {
    /// An empty collector for the registry `text` read from `path`.
    pub fn new(path: &Path, text: &str) -> Self {
        Problems {
            sources: vec![Source {
                path: path.to_path_buf(),
                base: 0,
                lines: LineIndex::new(text),
            }],
            base: 0,
            inserted: None,
            found: Vec::new(),
            total: 0,
        }
    }

    /// Adds an included file's `text`; returns its base, for [`enter`](Self::enter).
    pub fn add_source(&mut self, path: &Path, text: &str) -> usize {
        let last = self
            .sources
            .last()
            .map_or(0, |s| s.base + s.lines.len() + 1);
        self.sources.push(Source {
            path: path.to_path_buf(),
            base: last,
            lines: LineIndex::new(text),
        });
        last
    }

    /// From now on, reported offsets are relative to the file that starts at `base`, as parsed
    /// with `inserted` bytes (`(at, length)`) it does not have.
    pub fn enter(&mut self, base: usize, inserted: Option<(usize, usize)>) {
        self.base = base;
        self.inserted = inserted;
    }

    /// From now on, reported offsets are global (the resolver's, from the raw registry).
    pub fn leave(&mut self) {
        self.base = 0;
        self.inserted = None;
    }

    /// The file's own offset of the parser's `offset` (one inside the inserted bytes: where
    /// they were inserted).
    fn in_file(&self, offset: usize) -> usize {
        match self.inserted {
            Some((at, length)) if offset >= at + length => offset - length,
            Some((at, _)) if offset >= at => at,
            _ => offset,
        }
    }

    /// The global offset of `offset` in the current file.
    pub fn global(&self, offset: usize) -> usize {
        self.base + self.in_file(offset)
    }

    /// Records a problem at byte `offset` (of the current file).
    pub fn report(&mut self, offset: usize, message: impl Into<String>) {
        self.total += 1;
        let at = self.global(offset);
        self.found.push((at, message.into()));
        if self.found.len() >= 4 * MAX_DIAGNOSTICS {
            self.compact();
        }
    }

    /// Keeps the earliest problems, repeats removed (they do not count toward the total).
    fn compact(&mut self) {
        self.found.sort_by_key(|&(offset, _)| offset);
        let before = self.found.len();
        self.found.dedup();
        self.total -= before - self.found.len();
        self.found.truncate(MAX_DIAGNOSTICS + 1);
    }

    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The line of byte `offset` of the current file, for messages that point back ("the first
    /// is on line 7").
    pub fn line(&self, offset: usize) -> u32 {
        let offset = self.in_file(offset);
        self.source(self.base + offset).lines.line(offset)
    }

    /// Where the global offset `at` is, for messages that point back from the current file:
    /// `line 7`, or `line 7 of conf.d/is.xml` when it is in another file.
    pub fn place(&self, at: usize) -> String {
        let source = self.source(at);
        let line = source.lines.line(at - source.base);
        if source.base == self.base {
            format!("line {line}")
        } else {
            format!("line {line} of {}", source.path.display())
        }
    }

    /// The file that holds global offset `at`.
    fn source(&self, at: usize) -> &Source {
        let index = self.sources.partition_point(|s| s.base <= at);
        &self.sources[index.max(1) - 1]
    }

    /// The problems in document order (the main file's, then each included file's), repeats
    /// removed, capped at [`MAX_DIAGNOSTICS`].
    pub fn into_error(mut self) -> RegistryError {
        self.compact();
        let total = self.total;
        let mut diagnostics: Vec<Diagnostic> = self
            .found
            .iter()
            .take(MAX_DIAGNOSTICS)
            .map(|(offset, message)| self.diagnostic(*offset, message.clone()))
            .collect();
        if let Some((offset, _)) = self.found.get(MAX_DIAGNOSTICS) {
            let message = format!("too many errors ({total} in all); fix the ones above first");
            diagnostics.push(self.diagnostic(*offset, message));
        }
        RegistryError(diagnostics)
    }

    fn diagnostic(&self, at: usize, message: String) -> Diagnostic {
        let source = self.source(at);
        let (line, column) = source.lines.position(at - source.base);
        Diagnostic {
            path: source.path.clone(),
            line,
            column,
            message,
        }
    }
}

/// Translates a roxmltree error into a diagnostic, placing it better than roxmltree does where
/// roxmltree only says "1:1" (DTD, truncated input).
pub fn xml_error(path: &Path, text: &str, error: &roxmltree::Error) -> RegistryError {
    let (at, message) = xml_problem(text, error);
    RegistryError::single(path, at, message)
}

/// Where (line, column) a roxmltree error is and what it says, for [`xml_error`] and for an
/// included file's errors.
pub fn xml_problem(text: &str, error: &roxmltree::Error) -> ((u32, u32), String) {
    use roxmltree::Error as E;
    let lines = LineIndex::new(text);
    let pos = error.pos();
    let at = (pos.row, pos.col);
    let (at, message) = match error {
        E::DtdDetected => (
            lines.position(doctype_offset(text)),
            "DTDs and entities are not allowed in the registry (found `<!DOCTYPE`)".to_string(),
        ),
        E::UnknownEntityReference(name, _) => (
            at,
            format!(
                "unknown entity `&{name};`: DTDs and entities are not allowed; only the XML \
                 built-ins (`&lt;` `&gt;` `&amp;` `&apos;` `&quot;`) and `&#N;` work"
            ),
        ),
        E::UnclosedRootNode | E::UnexpectedEndOfStream => (
            lines.position(text.len()),
            "the XML ends before the root element is closed (truncated file?)".to_string(),
        ),
        E::NoRootNode => (
            at,
            "the file holds no XML element; expected `<supervisor>`".into(),
        ),
        E::NodesLimitReached => (
            at,
            format!("the registry has more than {NODES_LIMIT} XML nodes"),
        ),
        other => {
            let text = other.to_string().replace(&format!(" at {pos}"), "");
            (at, format!("malformed XML: {text}"))
        }
    };
    (at, message)
}

/// Where the `<!DOCTYPE` that roxmltree rejected starts: after an optional BOM and XML
/// declaration, and after any comments, processing instructions and whitespace.
fn doctype_offset(text: &str) -> usize {
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        let skipped = if trimmed.starts_with("<!--") {
            trimmed.find("-->").map(|end| &trimmed[end + 3..])
        } else if trimmed.starts_with("<?") {
            trimmed.find("?>").map(|end| &trimmed[end + 2..])
        } else {
            None
        };
        match skipped {
            Some(after) => rest = after,
            None => return text.len() - trimmed.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_roxmltree() {
        let text = "<a>\n  <b x='1'>é\r\n\t<c/></b>\n<!-- ü -->\n<d/></a>";
        let doc = roxmltree::Document::parse(text).unwrap();
        let lines = LineIndex::new(text);
        for node in doc.descendants() {
            let pos = doc.text_pos_at(node.range().start);
            assert_eq!(lines.position(node.range().start), (pos.row, pos.col));
            for attribute in node.attributes() {
                let pos = doc.text_pos_at(attribute.range().start);
                assert_eq!(lines.position(attribute.range().start), (pos.row, pos.col));
            }
        }
        assert_eq!(lines.position(text.len() + 10), lines.position(text.len()));
    }

    #[test]
    fn problems_come_out_sorted_deduplicated_and_capped() {
        let text = "x\n".repeat(200);
        let mut problems = Problems::new(Path::new("r.xml"), &text);
        for line in (0..150).rev() {
            problems.report(line * 2, format!("p{line}"));
        }
        problems.report(0, "p0");
        let RegistryError(diagnostics) = problems.into_error();
        assert_eq!(diagnostics.len(), MAX_DIAGNOSTICS + 1);
        assert_eq!(diagnostics[0].to_string(), "r.xml:1:1: p0");
        assert_eq!(diagnostics[1].to_string(), "r.xml:2:1: p1");
        assert!(diagnostics[MAX_DIAGNOSTICS].message.contains("150 in all"));
    }

    #[test]
    fn doctype_is_found_after_declaration_and_comments() {
        let text = "<?xml version='1.0'?>\n<!-- a -->\n  <!DOCTYPE x [<!ENTITY e 'f'>]><x/>";
        assert_eq!(&text[doctype_offset(text)..][..9], "<!DOCTYPE");
    }
}
