//! `<include path="conf.d/*.xml"/>`: the files a registry includes, found, read and walked into
//! the same raw registry as the main file.
//!
//! A path is relative to the folder of the file that names it; its file name may hold the
//! wildcards `*` and `?` (the folder may not), and the matching files are taken in byte order of
//! their names (hidden ones only when the pattern starts with `.`). An included file may include
//! others: they are walked depth first, right after the file that names them, and a file is
//! read once at most (a second inclusion is an error, so a cycle ends). The main file and its
//! included files together stay within the registry's limits ([`MAX_BYTES`], [`NODES_LIMIT`],
//! the attribute counts) and [`MAX_FILES`] files. Every problem is reported at the `<include>`
//! that brought the file in, or inside the included file itself.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::error::xml_problem;
use super::raw::RawRegistry;
use super::walk::{BARE_ROOT, Walker};
use super::{MAX_BYTES, NODES_LIMIT, file, prescan};

/// The most files one registry may include, directly or not.
pub const MAX_FILES: usize = 10_000;

/// What the files read so far have used of the registry's limits.
pub struct Used {
    /// Bytes.
    pub bytes: u64,
    /// XML nodes.
    pub nodes: u32,
    /// Attributes.
    pub attributes: usize,
}

/// A file to read: where it is, how messages name it, and the `<include>` that named it.
struct Pending {
    path: PathBuf,
    shown: PathBuf,
    at: usize,
}

/// Reads and walks every file the main file `main` (absolute; `shown` as the operator gave it)
/// includes, and those they include, into `raw`. Returns the files read, in order.
pub fn read_all(
    walker: &mut Walker,
    raw: &mut RawRegistry,
    main: &Path,
    shown: &Path,
    mut used: Used,
) -> Vec<PathBuf> {
    let mut seen: HashSet<PathBuf> = HashSet::from([identity(main)]);
    let mut stack = Vec::new();
    walker.p.leave();
    queue(walker, raw, main, shown, &mut stack);
    let mut read = Vec::new();
    while let Some(pending) = stack.pop() {
        if !seen.insert(identity(&pending.path)) {
            let message = format!(
                "`<include>`: {} is included already (each file may be included once)",
                pending.shown.display()
            );
            walker.p.report(pending.at, message);
            continue;
        }
        if read.len() == MAX_FILES {
            let message = format!("`<include>`: more than {MAX_FILES} files are included");
            walker.p.report(pending.at, message);
            break;
        }
        if !walk_one(walker, raw, &pending, &mut used) {
            continue;
        }
        queue(walker, raw, &pending.path, &pending.shown, &mut stack);
        read.push(pending.path);
    }
    read
}

/// Expands the `<include>`s of the file walked last (at `path`, shown as `shown`) onto the
/// stack, so that the first of them is read next.
fn queue(
    walker: &mut Walker,
    raw: &mut RawRegistry,
    path: &Path,
    shown: &Path,
    stack: &mut Vec<Pending>,
) {
    let folder = path.parent().unwrap_or(Path::new("/"));
    let shown_folder = shown.parent().unwrap_or(Path::new(""));
    let mut found = Vec::new();
    for include in std::mem::take(&mut raw.includes) {
        match matching(folder, &include.value) {
            Ok(files) => found.extend(files.into_iter().map(|file| Pending {
                path: folder.join(&file),
                shown: shown_folder.join(&file),
                at: include.at,
            })),
            Err(message) => walker
                .p
                .report(include.at, format!("`<include path>`: {message}")),
        }
    }
    stack.extend(found.into_iter().rev());
}

/// Reads, checks and walks one included file; `false` when it could not be walked (reported).
fn walk_one(
    walker: &mut Walker,
    raw: &mut RawRegistry,
    pending: &Pending,
    used: &mut Used,
) -> bool {
    let Some(text) = read(walker, pending, used) else {
        return false;
    };
    let base = walker.p.add_source(&pending.shown, &text);
    let (document, inserted) = as_document(&text);
    walker.p.enter(base, inserted);
    let walked = parse_and_walk(walker, raw, &document, used);
    walker.p.leave();
    walked
}

/// An included file's `text` as one XML document, and the bytes inserted into it (`(at,
/// length)`): a file of bare elements (SPEC's form) is wrapped in a [`BARE_ROOT`] element,
/// opened right before its first element (after an XML declaration or comments); a
/// `<supervisor>` file is left as it is.
fn as_document(text: &str) -> (Cow<'_, str>, Option<(usize, usize)>) {
    match first_element(text) {
        Some(at) if !names(&text[at..], "supervisor") => {
            let open = format!("<{BARE_ROOT}>");
            let wrapped = format!("{}{open}{}</{BARE_ROOT}>", &text[..at], &text[at..]);
            (Cow::Owned(wrapped), Some((at, open.len())))
        }
        _ => (Cow::Borrowed(text), None),
    }
}

/// The offset of the first element's `<` (past declarations, processing instructions and
/// comments); `None` for a file without one, or with a `<!DOCTYPE` first (which the parser
/// refuses as it is).
fn first_element(text: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        at += text[at..].find('<')?;
        let rest = &text[at..];
        let skipped = if rest.starts_with("<?") {
            rest.find("?>").map(|end| end + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|end| end + 3)
        } else if rest.starts_with("<!") {
            return None;
        } else {
            return Some(at);
        };
        at += skipped?;
    }
}

/// Whether the element opening at the start of `rest` is named `name`.
fn names(rest: &str, name: &str) -> bool {
    rest[1..]
        .strip_prefix(name)
        .is_some_and(|after| after.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/'))
}

/// The file's text, within what is left of the byte budget; `None` when it cannot be had
/// (reported at the `<include>`).
fn read(walker: &mut Walker, pending: &Pending, used: &mut Used) -> Option<String> {
    let shown = pending.shown.display();
    let problem = match file::read_capped(&pending.path) {
        Ok(bytes) => {
            used.bytes += bytes.len() as u64;
            if used.bytes > MAX_BYTES {
                format!(
                    "{shown} takes the registry and its included files past {MAX_BYTES} bytes \
                     ({} MiB), the most allowed in all",
                    MAX_BYTES >> 20
                )
            } else {
                match String::from_utf8(bytes) {
                    Ok(text) => return Some(text),
                    Err(e) => format!(
                        "{shown} is not UTF-8 (at byte {}); the registry must be UTF-8",
                        e.utf8_error().valid_up_to()
                    ),
                }
            }
        }
        Err(error) => {
            let first = error.0.into_iter().next().map(|d| d.message);
            let reason = first
                .unwrap_or_default()
                .replace("the registry", "the file");
            format!("{shown}: {reason}")
        }
    };
    walker
        .p
        .report(pending.at, format!("`<include>`: {problem}"));
    None
}

/// Parses the current file's `text` within the node and attribute budgets and walks it.
fn parse_and_walk(walker: &mut Walker, raw: &mut RawRegistry, text: &str, used: &mut Used) -> bool {
    match prescan::attribute_flood(text, used.attributes) {
        Ok(total) => used.attributes = total,
        Err(offset) => {
            let (each, all) = (prescan::MAX_ATTRIBUTES, prescan::MAX_TOTAL_ATTRIBUTES);
            let message = format!(
                "too many attributes (at most {each} an element, {all} in all, included files \
                 counted)"
            );
            walker.p.report(offset, message);
            return false;
        }
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT.saturating_sub(used.nodes).max(1),
        ..roxmltree::ParsingOptions::default()
    };
    let document = match roxmltree::Document::parse_with_options(text, options) {
        Ok(document) => document,
        Err(error) => {
            let ((line, column), message) = xml_problem(text, &error);
            let offset = super::error::LineIndex::new(text).offset(line, column);
            walker.p.report(offset, message);
            return false;
        }
    };
    used.nodes += u32::try_from(document.descendants().count()).unwrap_or(u32::MAX);
    walker.fragment(&document, raw);
    true
}

/// How a file is told apart from another: its canonical path (its absolute one when it cannot
/// be found, which its read then reports).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The files `pattern` names, relative to `folder` as written (an absolute pattern stays
/// absolute): the pattern itself when its file name has no wildcard, else the matching
/// entries of its folder that are not folders, in byte order.
fn matching(folder: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let (directory, name) = match pattern.rsplit_once('/') {
        Some((directory, name)) => (directory, name),
        None => ("", pattern),
    };
    if directory.contains(WILDCARDS) {
        return Err(format!(
            "`{pattern}`: wildcards (`*`, `?`) may appear in the file name only"
        ));
    }
    if name.is_empty() {
        return Err(format!(
            "`{pattern}` names a folder; name files, such as `{pattern}*.xml`"
        ));
    }
    if !name.contains(WILDCARDS) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let directory = match (directory, pattern.starts_with('/')) {
        ("", true) => "/",
        (directory, _) => directory,
    };
    let listed = folder.join(directory);
    let entries = std::fs::read_dir(&listed)
        .map_err(|e| format!("cannot list the folder of `{pattern}`: {e}"))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|entry| name.starts_with('.') || !entry.starts_with('.'))
        .filter(|entry| wildcard_match(name, entry))
        .filter(|entry| !listed.join(entry).is_dir())
        .collect();
    names.sort_unstable();
    Ok(names
        .into_iter()
        .map(|entry| Path::new(directory).join(entry))
        .collect())
}

/// The wildcard characters of a file name pattern.
const WILDCARDS: [char; 2] = ['*', '?'];

/// Whether `name` matches `pattern`, where `*` stands for any characters and `?` for one.
/// Linear in practice: a later `*` retries from the latest star only.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Where the main file leaves the budget: its own bytes, nodes and attributes.
pub fn used_by(text: &str, document: &roxmltree::Document, attributes: usize) -> Used {
    Used {
        bytes: text.len() as u64,
        nodes: u32::try_from(document.descendants().count()).unwrap_or(u32::MAX),
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_any_run_or_one_character() {
        assert!(wildcard_match("*.xml", "is.xml"));
        assert!(wildcard_match("*.xml", ".xml"));
        assert!(!wildcard_match("*.xml", "is.xml~"));
        assert!(wildcard_match("s?g.*", "svg.xml"));
        assert!(!wildcard_match("s?g.*", "sg.xml"));
        assert!(wildcard_match("*a*b*c", "xxaxxbxxc"));
        assert!(!wildcard_match("*a*b*c", "xxaxxcxxb"));
        assert!(wildcard_match("**", ""));
    }

    #[test]
    fn matching_sorts_skips_hidden_and_folders_and_keeps_literals() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf.d");
        std::fs::create_dir(&conf).unwrap();
        for name in ["b.xml", "a.xml", ".hidden.xml", "c.txt"] {
            std::fs::write(conf.join(name), "").unwrap();
        }
        std::fs::create_dir(conf.join("d.xml")).unwrap();
        let found = matching(dir.path(), "conf.d/*.xml").unwrap();
        assert_eq!(
            found,
            [Path::new("conf.d/a.xml"), Path::new("conf.d/b.xml")]
        );
        let literal = matching(dir.path(), "conf.d/none.xml").unwrap();
        assert_eq!(literal, [Path::new("conf.d/none.xml")]);
        assert!(
            matching(dir.path(), "*/a.xml")
                .unwrap_err()
                .contains("file name only")
        );
        assert!(
            matching(dir.path(), "missing/*.xml")
                .unwrap_err()
                .contains("cannot list")
        );
        assert_eq!(
            matching(dir.path(), "conf.d/*.none").unwrap(),
            Vec::<PathBuf>::new()
        );
        let absolute = format!("{}/*.xml", conf.display());
        assert_eq!(
            matching(Path::new("/elsewhere"), &absolute).unwrap().len(),
            2
        );
    }
}
