//! The documents match the code: every file `actors/ARCHITECTURE.md` and the README's layout
//! name exists, and every message written with its fields (`Start { delay, cause }`) has
//! exactly those fields in the code (an enum variant: at least those).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The workspace root (this crate is `actors/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The text between backticks, in order (a span may cross a line break).
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|span| span.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Every file and folder below `dir`, as paths relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            let relative = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                found.push(format!("{relative}/"));
                pending.push(path);
            } else {
                found.push(relative);
            }
        }
    }
    found
}

/// The names a document gives as files (`x.rs`, `dir/`, `dir/x.rs`) that exist nowhere below
/// any of `dirs` (a name matches any path that ends with it).
fn missing_files(document: &str, dirs: &[PathBuf]) -> Vec<String> {
    let present: Vec<String> = dirs.iter().flat_map(|dir| tree(dir)).collect();
    quoted(document)
        .into_iter()
        .filter(|name| {
            !name.contains(' ')
                && !name.starts_with('<')
                && (name.ends_with(".rs") || name.ends_with('/'))
        })
        .filter(|name| {
            !present
                .iter()
                .any(|path| path == name || path.ends_with(&format!("/{name}")))
        })
        .collect()
}

/// `Name { a, b }` spans of a document: the name, its fields, and whether it is a pattern
/// (`Start { cause: Restart }` names some fields with a value, not all of them).
fn written_fields(document: &str) -> Vec<(String, BTreeSet<String>, bool)> {
    quoted(document)
        .into_iter()
        .filter_map(|span| {
            let (name, fields) = span.split_once(" { ")?;
            let fields = fields.strip_suffix(" }")?;
            let name_ok = name.chars().all(|c| c.is_ascii_alphanumeric())
                && name.starts_with(|c: char| c.is_ascii_uppercase());
            let pattern = fields.contains(':');
            let fields: BTreeSet<String> = fields
                .split(", ")
                .map(|field| field.split(':').next().unwrap_or(field).trim().to_string())
                .collect();
            name_ok.then_some((name.to_string(), fields, pattern))
        })
        .collect()
}

/// The fields of struct or variant `name` in the actors' sources: `(is_struct, fields)`.
fn code_fields(name: &str) -> Option<(bool, BTreeSet<String>)> {
    let src = root().join("actors/src");
    for path in tree(&src).into_iter().filter(|p| p.ends_with(".rs")) {
        let text = std::fs::read_to_string(src.join(&path)).ok()?;
        for (marker, is_struct) in [
            (format!("pub struct {name} {{"), true),
            (format!("    {name} {{"), false),
        ] {
            let Some(at) = text.find(&marker) else {
                continue;
            };
            let body = &text[at + marker.len()..];
            let body = &body[..body
                .find("\n}")
                .or_else(|| body.find('}'))
                .unwrap_or(body.len())];
            let fields = body
                .lines()
                .map(|line| {
                    line.trim()
                        .trim_start_matches("pub ")
                        .trim_start_matches("pub(crate) ")
                })
                .filter(|line| !line.starts_with("//") && !line.starts_with('#'))
                .flat_map(|line| line.split(',').map(str::trim).collect::<Vec<_>>())
                .filter_map(|part| Some(part.split_once(':')?.0.trim().to_string()))
                .filter(|field| {
                    !field.is_empty()
                        && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .collect();
            return Some((is_struct, fields));
        }
    }
    None
}

#[test]
fn every_file_the_architecture_names_exists() {
    let document = std::fs::read_to_string(root().join("actors/ARCHITECTURE.md")).unwrap();
    // Its own files, and the daemon's few it names (`src/upgrade/`).
    let missing = missing_files(&document, &[root().join("actors/src"), root()]);
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names what is not in the tree: {missing:?}"
    );
}

#[test]
fn every_file_the_readme_layout_names_exists() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let layout = readme.split("## Layout").nth(1).expect("a Layout section");
    let layout = layout.split("\n## ").next().unwrap();
    let missing = missing_files(layout, &[root()]);
    assert!(
        missing.is_empty(),
        "the README's layout names what is not in the tree: {missing:?}"
    );
}

#[test]
fn messages_have_the_fields_the_architecture_lists() {
    let document = std::fs::read_to_string(root().join("actors/ARCHITECTURE.md")).unwrap();
    let written = written_fields(&document);
    assert!(
        written.iter().any(|(name, ..)| name == "Start"),
        "{written:?}"
    );
    for (name, fields, pattern) in written {
        let (is_struct, code) = code_fields(&name)
            .unwrap_or_else(|| panic!("ARCHITECTURE.md names `{name}`, which the code lacks"));
        if is_struct && !pattern {
            assert_eq!(fields, code, "the fields of `{name}`");
        } else {
            assert!(
                fields.is_subset(&code),
                "`{name}`: {fields:?} not all in {code:?}"
            );
        }
    }
}

#[test]
fn the_checks_find_what_is_wrong() {
    // Negative controls: a renamed field and a missing file are caught.
    let written = written_fields("`Start { delay, reason }`");
    let (_, code) = code_fields("Start").unwrap();
    assert_ne!(written[0].1, code);
    let missing = missing_files("`nowhere.rs` and `decide.rs`", &[root().join("actors/src")]);
    assert_eq!(missing, ["nowhere.rs"]);
}

/// The modules of `actors/src` that `path` (relative to it) names with `crate::…`, comments
/// left out.
fn imports(src: &Path, path: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(src.join(path)).unwrap();
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| {
            line.split("crate::")
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect()
        })
        .filter(|module: &String| !module.is_empty())
        .collect()
}

/// The first cycle among the top-level modules of `actors/src`, if any (depth first).
fn import_cycle() -> Option<Vec<String>> {
    let src = root().join("actors/src");
    let mut edges: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for path in tree(&src).into_iter().filter(|p| p.ends_with(".rs")) {
        let module = path
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let mut targets = imports(&src, &path);
        targets.remove(&module);
        edges.entry(module).or_default().extend(targets);
    }
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            return Some(path[at..].to_vec());
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_modules_of_the_tree_import_each_other_in_no_cycle() {
    assert_eq!(import_cycle(), None);
    // Positive control: the walk sees the imports it judges.
    let src = root().join("actors/src");
    assert!(imports(&src, "tree.rs").contains("group"));
}
