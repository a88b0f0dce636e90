//! Property tests of the two hostile inputs, run by every `cargo test` (a second or two in all):
//! the registry loader (`registry::parse`) and the control-protocol decoder (`decode`).
//!
//! - `parse` never panics, on arbitrary strings, on XML-token soup and on random edits of
//!   valid-full.xml, and every error it returns names the path and points inside the document.
//! - A generated valid registry (random ids, priorities, durations in every syntax, groups
//!   nested up to 3 deep) parses, into a tree with the same ids in the same document order and
//!   the same priorities and durations.
//! - `decode` never panics on arbitrary bytes, and every request round-trips through serde_json.
//! - The fuzz seed corpora (fuzz/corpus/, where crashers are kept, and the registry fixtures of
//!   tests/fixtures/registry, the registry target's other seed directory) replay with the same
//!   checks.

use std::path::Path;
use std::time::Duration;

use crate::placed::assert_placed;
use actors::spec::{ChildSpec, GroupSpec};
use proptest::prelude::*;
use proptest::sample::Index;
use supervisor::control::protocol::{Request, decode};
use supervisor::registry::{self, Registry, RegistryError};

const VALID_FULL: &str = include_str!("../fixtures/registry/valid-full.xml");

fn parse_checked(text: &str) -> Result<Registry, RegistryError> {
    let path = Path::new("prop/registry.xml");
    let result = registry::parse(path, text);
    assert_placed(&result, path, text);
    result
}

// ----- (a) parse never panics, and places every error -----

/// Characters that matter to XML, plus letters, digits, spaces and anything else.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select("<>/=\"'&;#!?-[]: \t\r\n".chars().collect::<Vec<_>>()),
        2 => prop::char::range('a', 'z'),
        1 => prop::char::range('0', '9'),
        1 => any::<char>(),
    ]
}

/// Fragments of registries, concatenated at random.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = [
        "<supervisor>",
        "</supervisor>",
        "<servers>",
        "</servers>",
        "<servers/>",
        "<server id=\"a\">",
        "<server id=\"b\">",
        "</server>",
        "<group id=\"g\">",
        "</group>",
        "<executable>/bin/true</executable>",
        "<profiles><profile id=\"p\">",
        "</profile></profiles>",
        "<profile ref=\"p\"/>",
        "<config>",
        "</config>",
        "<tcpport bind=\"::1\">9",
        "</tcpport>",
        "<restartStrategy type=\"one_for_all\" intensity=\"1\" period=\"1\"/>",
        "<startPriority>",
        "</startPriority>",
        "<stopTimeout>",
        "</stopTimeout>",
        "<output file=\"{id}\" maxSize=\"1KB\" keep=\"2\"/>",
        "<readiness tcp=\"h:1\"/>",
        "<healthCheck exec=\"x\">",
        "</healthCheck>",
        "<argument>",
        "</argument>",
        "<user>root</user>",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<?pi?>",
        "<!DOCTYPE s>",
        "&#0;",
        "&amp;",
        "&x;",
        "\u{feff}",
        "\n",
        " ",
        "1",
        "250ms",
        "é",
        "\"",
        "<",
        ">",
    ];
    prop::collection::vec(prop::sample::select(tokens.to_vec()), 0..40).prop_map(|t| t.concat())
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, char),
    Delete(Index),
    Replace(Index, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), xml_char()).prop_map(|(at, c)| Edit::Insert(at, c)),
        any::<Index>().prop_map(Edit::Delete),
        (any::<Index>(), xml_char()).prop_map(|(at, c)| Edit::Replace(at, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        match *edit {
            Edit::Insert(at, c) => chars.insert(at.index(chars.len() + 1), c),
            Edit::Delete(at) if !chars.is_empty() => {
                chars.remove(at.index(chars.len()));
            }
            Edit::Replace(at, c) if !chars.is_empty() => {
                let at = at.index(chars.len());
                chars[at] = c;
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    fn parse_never_panics_on_arbitrary_strings(text in any::<String>()) {
        let _ = parse_checked(&text);
    }

    fn parse_never_panics_on_token_soup(text in token_soup()) {
        let _ = parse_checked(&text);
    }

    fn parse_never_panics_on_edited_valid_registries(
        edits in prop::collection::vec(edit(), 1..8)
    ) {
        let _ = parse_checked(&apply(VALID_FULL, &edits));
    }
}

fn the_unedited_registry_is_valid() {
    parse_checked(VALID_FULL).expect("valid-full.xml parses");
}

// ----- (b) generated valid registries -----

/// A generated child: a server or a group, its id assigned after generation (unique).
#[derive(Debug, Clone)]
enum Child {
    Server {
        id: String,
        priority: Option<u32>,
        start_delay: Option<(String, Duration)>,
        stop_timeout: Option<(String, Duration)>,
    },
    Group {
        id: String,
        priority: Option<u32>,
        strategy: Option<String>,
        children: Vec<Child>,
    },
}

/// A duration written in one of the registry's syntaxes, with the value it stands for.
fn duration() -> impl Strategy<Value = (String, Duration)> {
    let year = 365 * 24 * 60 * 60_u64;
    prop_oneof![
        (0..=year).prop_map(|s| (s.to_string(), Duration::from_secs(s))),
        (0..=year).prop_map(|s| (format!("{s}s"), Duration::from_secs(s))),
        (0..=3_600_000_u64).prop_map(|ms| (format!("{ms}ms"), Duration::from_millis(ms))),
        (0..=year / 60).prop_map(|m| (format!("{m}m"), Duration::from_secs(m * 60))),
        (0..year, 0..1000_u64)
            .prop_map(|(s, ms)| (format!("{s}.{ms:03}"), Duration::from_millis(s * 1000 + ms))),
        (0..1000_u64, 0..10_u64).prop_map(|(ms, tenth)| (
            format!("{ms}.{tenth}ms"),
            Duration::from_micros(ms * 1000 + tenth * 100)
        )),
        (0..1000_u64).prop_map(|s| (format!("000{s}"), Duration::from_secs(s))),
    ]
}

/// XML whitespace around a value, which the loader trims.
fn padded(text: &str, pad: u8) -> String {
    let space = [" ", "\n  ", "\t", "\r\n"];
    let before = if pad & 1 != 0 {
        space[(pad >> 2) as usize % 4]
    } else {
        ""
    };
    let after = if pad & 2 != 0 {
        space[(pad >> 4) as usize % 4]
    } else {
        ""
    };
    format!("{before}{text}{after}")
}

fn leaf() -> impl Strategy<Value = Child> {
    (
        prop::option::of(0..=1000_u32),
        prop::option::of(duration()),
        prop::option::of(duration()),
    )
        .prop_map(|(priority, start_delay, stop_timeout)| Child::Server {
            id: String::new(),
            priority,
            start_delay,
            stop_timeout,
        })
}

/// Children of the root: servers, and groups nested at most 3 deep.
fn children() -> impl Strategy<Value = Vec<Child>> {
    let strategies = ["one_for_one", "one_for_all", "rest_for_one"];
    let tree = leaf().prop_recursive(3, 40, 5, move |inner| {
        (
            prop::option::of(0..=1000_u32),
            prop::option::of(prop::sample::select(strategies.to_vec())),
            prop::collection::vec(inner, 0..5),
        )
            .prop_map(|(priority, strategy, children)| Child::Group {
                id: String::new(),
                priority,
                strategy: strategy.map(String::from),
                children,
            })
    });
    prop::collection::vec(tree, 0..6)
}

/// Gives every child a unique id, `BASE-N` in document order (N unique, so the ids are).
fn name(children: &mut [Child], bases: &[String], next: &mut usize) {
    for child in children {
        let id = format!("{}-{next}", bases[*next % bases.len()]);
        *next += 1;
        match child {
            Child::Server { id: slot, .. } => *slot = id,
            Child::Group {
                id: slot, children, ..
            } => {
                *slot = id;
                name(children, bases, next);
            }
        }
    }
}

fn write(children: &[Child], pad: u8, xml: &mut String) {
    for child in children {
        match child {
            Child::Server {
                id,
                priority,
                start_delay,
                stop_timeout,
            } => {
                xml.push_str(&format!(
                    "<server id=\"{id}\">\n<executable>/bin/true</executable>\n"
                ));
                if let Some(p) = priority {
                    let p = padded(&p.to_string(), pad);
                    xml.push_str(&format!("<startPriority>{p}</startPriority>\n"));
                }
                if let Some((text, _)) = start_delay {
                    let text = padded(text, pad.rotate_left(3));
                    xml.push_str(&format!("<startDelay>{text}</startDelay>\n"));
                }
                if let Some((text, _)) = stop_timeout {
                    xml.push_str(&format!("<stopTimeout>{text}</stopTimeout>\n"));
                }
                xml.push_str("</server>\n");
            }
            Child::Group {
                id,
                priority,
                strategy,
                children,
            } => {
                xml.push_str(&format!("<group id=\"{id}\">\n"));
                if let Some(kind) = strategy {
                    xml.push_str(&format!(
                        "<restartStrategy type=\"{kind}\" intensity=\"2\" period=\"1.5\"/>\n"
                    ));
                }
                if let Some(p) = priority {
                    xml.push_str(&format!("<startPriority>{p}</startPriority>\n"));
                }
                write(children, pad, xml);
                xml.push_str("</group>\n");
            }
        }
    }
}

/// (id, priority, start delay, stop timeout) of every child, in document order.
type Row = (String, Option<u32>, Option<Duration>, Option<Duration>);

fn expected(children: &[Child], rows: &mut Vec<Row>) {
    for child in children {
        match child {
            Child::Server {
                id,
                priority,
                start_delay,
                stop_timeout,
            } => rows.push((
                id.clone(),
                *priority,
                start_delay.as_ref().map(|d| d.1),
                stop_timeout.as_ref().map(|d| d.1),
            )),
            Child::Group {
                id,
                priority,
                children,
                ..
            } => {
                rows.push((id.clone(), *priority, None, None));
                expected(children, rows);
            }
        }
    }
}

/// The same rows read from the resolved tree; values the document did not give are `None`.
fn resolved(group: &GroupSpec, like: &[Row], rows: &mut Vec<Row>) {
    for child in &group.children {
        let given = like.get(rows.len());
        let given = |pick: fn(&Row) -> bool| given.is_some_and(pick);
        match child {
            ChildSpec::Component(c) => rows.push((
                c.id.clone(),
                given(|r| r.1.is_some()).then_some(c.start_priority),
                given(|r| r.2.is_some()).then_some(c.start_delay),
                given(|r| r.3.is_some()).then_some(c.stop_timeout),
            )),
            ChildSpec::Group(g) => {
                rows.push((
                    g.id.clone(),
                    given(|r| r.1.is_some()).then_some(g.start_priority),
                    None,
                    None,
                ));
                resolved(g, like, rows);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    fn generated_registries_parse_in_document_order(
        mut children in children(),
        bases in prop::collection::vec("[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", 1..8),
        pad in any::<u8>(),
    ) {
        name(&mut children, &bases, &mut 0);
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<supervisor>\n<servers>\n");
        write(&children, pad, &mut xml);
        xml.push_str("</servers>\n</supervisor>\n");
        let registry = match parse_checked(&xml) {
            Ok(registry) => registry,
            Err(error) => return Err(TestCaseError::fail(format!("{error}\n{xml}"))),
        };
        let mut want = Vec::new();
        expected(&children, &mut want);
        let mut got = Vec::new();
        resolved(&registry.tree.root, &want, &mut got);
        prop_assert_eq!(got, want, "{}", xml);
    }
}

// ----- (c) the control protocol -----

fn request() -> impl Strategy<Value = Request> {
    let ids = || prop::collection::vec(any::<String>(), 0..5);
    prop_oneof![
        Just(Request::Status {}),
        (ids(), any::<Option<u64>>())
            .prop_map(|(ids, timeout_ms)| Request::Start { ids, timeout_ms }),
        ids().prop_map(|ids| Request::Stop { ids }),
        (ids(), any::<Option<u64>>())
            .prop_map(|(ids, timeout_ms)| Request::Restart { ids, timeout_ms }),
        (any::<bool>(), any::<Option<u64>>()).prop_map(|(no_wait, timeout_ms)| Request::Reload {
            no_wait,
            timeout_ms
        }),
        Just(Request::Shutdown {}),
        any::<u64>().prop_map(|timeout_ms| Request::WaitReady { timeout_ms }),
        (ids(), any::<String>()).prop_map(|(ids, signal)| Request::Signal { ids, signal }),
    ]
}

/// JSON objects that look like requests: known and unknown commands, odd field types.
fn request_like() -> impl Strategy<Value = Vec<u8>> {
    let commands = [
        "status",
        "start",
        "stop",
        "restart",
        "reload",
        "shutdown",
        "wait_ready",
        "signal",
        "_exec",
        "a.b.c",
        "Status",
        "",
    ];
    let values = [
        r#"["a"]"#,
        "[]",
        "null",
        "1",
        r#""a""#,
        "{}",
        r#"[1]"#,
        "true",
        r#"["a",null]"#,
    ];
    (
        prop::sample::select(commands.to_vec()),
        prop::option::of(prop::sample::select(values.to_vec())),
        prop::option::of(("[a-z_]{1,8}", prop::sample::select(values.to_vec()))),
    )
        .prop_map(|(command, ids, extra)| {
            let mut line = format!(r#"{{"command":"{command}""#);
            if let Some(ids) = ids {
                line.push_str(&format!(r#","ids":{ids}"#));
            }
            if let Some((key, value)) = extra {
                line.push_str(&format!(r#","{key}":{value}"#));
            }
            line.push('}');
            line.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    fn decode_never_panics_on_arbitrary_bytes(
        line in prop::collection::vec(any::<u8>(), 0..256)
    ) {
        if let Err(message) = decode(&line) {
            prop_assert!(!message.is_empty());
        }
    }

    fn decode_never_panics_on_request_like_lines(line in request_like()) {
        if let Ok(request) = decode(&line) {
            let again = serde_json::to_vec(&request).unwrap();
            prop_assert_eq!(decode(&again), Ok(request));
        }
    }

    fn every_request_round_trips(request in request(), newline in any::<bool>()) {
        let mut line = serde_json::to_vec(&request).unwrap();
        if newline {
            line.push(b'\n');
        }
        prop_assert_eq!(decode(&line), Ok(request));
    }
}

// ----- the fuzz seed corpora, crashers included -----

/// The named files of each of `dirs` (below the package root): not the SHA-1-named ones libFuzzer
/// adds locally, nor the fixtures' table of expectations.
fn seeds(dirs: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for dir in dirs {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let libfuzzer = name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if !libfuzzer && !name.starts_with("expectations.") {
                seeds.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    seeds.sort();
    seeds
}

fn the_registry_seed_corpus_replays() {
    let seeds = seeds(&["fuzz/corpus/registry", "tests/fixtures/registry"]);
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in seeds {
        let path = dir.path().join(&name);
        std::fs::write(&path, &bytes).unwrap();
        let loaded = registry::load(&path);
        match std::str::from_utf8(&bytes) {
            Ok(text) => {
                assert_placed(&loaded, &path, text);
                let parsed = registry::parse(&path, text);
                assert_eq!(loaded, parsed, "{name}: load and parse disagree");
                if let Ok(registry) = &parsed {
                    let _ = supervisor::check::render(registry);
                }
            }
            Err(_) => {
                let error = loaded.expect_err(&name);
                assert!(error.0[0].message.contains("invalid UTF-8"), "{error}");
            }
        }
    }
}

fn the_protocol_seed_corpus_replays() {
    let seeds = seeds(&["fuzz/corpus/protocol"]);
    for (name, bytes) in &seeds {
        let kind = name.trim_end_matches(".json");
        match decode(bytes) {
            Ok(request) => {
                let line = serde_json::to_vec(&request).unwrap();
                assert_eq!(decode(&line), Ok(request), "{name}");
            }
            Err(message) => assert!(!message.is_empty(), "{name}"),
        }
        let known = [
            "status",
            "start",
            "stop",
            "restart",
            "reload",
            "shutdown",
            "wait_ready",
            "signal",
        ];
        if known.contains(&kind) {
            assert!(decode(bytes).is_ok(), "{name} must decode");
        }
    }
    assert!(seeds.len() >= 7);
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    parse_never_panics_on_arbitrary_strings,
    parse_never_panics_on_token_soup,
    parse_never_panics_on_edited_valid_registries,
    the_unedited_registry_is_valid,
    generated_registries_parse_in_document_order,
    decode_never_panics_on_arbitrary_bytes,
    decode_never_panics_on_request_like_lines,
    every_request_round_trips,
    the_registry_seed_corpus_replays,
    the_protocol_seed_corpus_replays,
];
