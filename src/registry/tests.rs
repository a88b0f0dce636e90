//! Tests of the loader as a whole, through [`load`] and [`parse`]: the fixture corpus shared with
//! `tests/registry_errors.rs`, generated hostile inputs (huge, deep, many nodes), and the resolved
//! result (defaults, profile merging, environment, paths).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actors::spec::{
    Backoff, ChildSpec, CommandSpec, ComponentSpec, GroupSpec, Intensity, RestartType, Strategy,
    TreeSpec,
};

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry")
}

include!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/registry/expectations.rs"
));

#[test]
fn the_fixture_corpus_gives_the_expected_diagnostics() {
    let table = fixture_table(&fixtures());
    for Fixture { file, expected } in &table {
        let path = fixtures().join(file);
        let started = Instant::now();
        let result = load(&path);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{file} took too long"
        );
        match result {
            Ok(_) => assert!(expected.is_empty(), "{file} loaded but should not"),
            Err(RegistryError(diagnostics)) => {
                let got: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                assert_eq!(diagnostics.len(), expected.len(), "{file}: {got:#?}");
                for (diagnostic, (position, fragment)) in diagnostics.iter().zip(expected) {
                    let at = format!("{}:{}", diagnostic.line, diagnostic.column);
                    assert_eq!(&at, position, "{file}: {diagnostic}");
                    assert!(
                        diagnostic.message.contains(fragment),
                        "{file}: {diagnostic}"
                    );
                    assert_eq!(diagnostic.path, path);
                }
            }
        }
    }
    let listed: Vec<&str> = table.iter().map(|fixture| fixture.file.as_str()).collect();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".xml") {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is not in expectations.txt"
            );
        }
    }
}

/// The single diagnostic `text` gives, as `LINE:COL: message`.
fn only_error(text: &str) -> String {
    let RegistryError(diagnostics) = parse(Path::new("r.xml"), text).unwrap_err();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    format!("{}:{}: {}", d.line, d.column, d.message)
}

#[test]
fn a_100_mb_file_is_rejected_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.xml");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let started = Instant::now();
    let RegistryError(diagnostics) = load(&path).unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (1, 1));
    assert!(diagnostics[0]
        .message
        .contains("too large (104857600 bytes)"));
}

#[test]
fn one_byte_over_a_mebibyte_is_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xml");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"<supervisor><servers/></supervisor>")
        .unwrap();
    file.write_all(&vec![b' '; (1 << 20) - 35 + 1]).unwrap();
    assert!(load(&path)
        .unwrap_err()
        .to_string()
        .contains("too large (1048577 bytes)"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(parse(&path, &text).is_err());
    assert!(parse(&path, &text[..text.len() - 1]).is_ok());
}

#[test]
fn a_missing_file_or_a_directory_is_an_error_at_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = load(&dir.path().join("nope.xml")).unwrap_err().to_string();
    assert!(
        missing.contains("nope.xml:1:1: cannot read the registry"),
        "{missing}"
    );
    let directory = load(dir.path()).unwrap_err().to_string();
    assert!(directory.contains(":1:1: is a directory"), "{directory}");
}

#[test]
fn ten_thousand_nested_groups_stop_at_level_33() {
    let mut text = String::from("<supervisor><servers>");
    for i in 0..10_000 {
        text.push_str(&format!("\n<group id=\"g{i}\">"));
    }
    text.push_str(&"</group>".repeat(10_000));
    text.push_str("</servers></supervisor>");
    // <supervisor> is level 1, <servers> 2, so the 31st group is level 33, on line 32.
    assert_eq!(
        only_error(&text),
        "32:1: `<group>` is nested more than 32 elements deep, the most the registry allows"
    );
}

#[test]
fn ten_thousand_nested_unknown_elements_are_one_error() {
    let text = format!(
        "<supervisor><servers>{}{}</servers></supervisor>",
        "<x>".repeat(10_000),
        "</x>".repeat(10_000)
    );
    assert!(only_error(&text).starts_with("1:22: unknown element `<x>` in `<servers>`"));
}

#[test]
fn more_than_the_nodes_limit_is_refused() {
    let text = format!(
        "<supervisor><servers>{}</servers></supervisor>",
        "<x/>".repeat(100_001)
    );
    assert_eq!(
        only_error(&text),
        "1:1: the registry has more than 100000 XML nodes"
    );
}

#[test]
fn a_flood_of_errors_is_capped() {
    let text = format!(
        "<supervisor><servers>{}</servers></supervisor>",
        "<x/>".repeat(500)
    );
    let RegistryError(diagnostics) = parse(Path::new("r.xml"), &text).unwrap_err();
    assert_eq!(diagnostics.len(), 101);
    assert!(diagnostics[100]
        .message
        .contains("too many errors (500 in all)"));
}

/// Every prefix of a valid registry, and many single-byte corruptions of it, load or fail
/// cleanly: no panic, and every diagnostic is inside the text.
#[test]
fn truncations_and_corruptions_never_panic() {
    let text = std::fs::read_to_string(fixtures().join("valid-full.xml")).unwrap();
    let lines = text.lines().count() as u32 + 1;
    let check = |candidate: &str| {
        if let Err(RegistryError(diagnostics)) = parse(Path::new("r.xml"), candidate) {
            assert!(!diagnostics.is_empty());
            assert!(diagnostics
                .iter()
                .all(|d| d.line >= 1 && d.line <= lines && d.column >= 1));
        }
    };
    for end in (0..text.len()).filter(|&end| text.is_char_boundary(end)) {
        check(&text[..end]);
    }
    let bytes = text.as_bytes();
    let mut seed: u64 = 0x5eed;
    for _ in 0..3_000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = (seed >> 33) as usize % bytes.len();
        let replacement = b"<>/=\"'&;x \n-0.#!?"[(seed >> 20) as usize % 17];
        let mut mutated = bytes.to_vec();
        mutated[at] = replacement;
        if let Ok(candidate) = std::str::from_utf8(&mutated) {
            check(candidate);
        }
    }
}

fn registry(text: &str) -> Registry {
    parse(Path::new("/etc/sv/SupervisorRegistry.xml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn components(group: &GroupSpec) -> Vec<&ComponentSpec> {
    group.components()
}

#[test]
fn defaults_fill_everything_left_out() {
    let loaded = registry(
        "<supervisor><servers>\
           <server id='a'><executable>sleep</executable></server>\
         </servers></supervisor>",
    );
    let expected = Registry {
        path: PathBuf::from("/etc/sv/SupervisorRegistry.xml"),
        config: DaemonConfig {
            tcp_port: None,
            log: PathBuf::from("/etc/sv/logs/Supervisor.log"),
            temp: None,
            trace_level: 2,
            stats_interval: None,
            log_retention_days: 10,
        },
        tree: TreeSpec {
            root: GroupSpec {
                id: String::new(),
                strategy: Strategy::OneForOne,
                intensity: Intensity {
                    max_restarts: 5,
                    period: Duration::from_secs(30),
                },
                start_priority: 0,
                children: vec![ChildSpec::Component(Box::new(ComponentSpec {
                    id: "a".into(),
                    description: String::new(),
                    command: CommandSpec {
                        executable: PathBuf::from("sleep"),
                        arguments: vec![],
                        inherit_environment: true,
                        environment: vec![],
                        working_directory: None,
                        user: None,
                    },
                    start_priority: 1,
                    start_delay: Duration::ZERO,
                    stop_timeout: Duration::from_secs(10),
                    stop_signal: libc::SIGTERM,
                    restart: RestartType::Permanent,
                    success_exit_codes: vec![0],
                    autostart: true,
                    backoff: Backoff {
                        initial: Duration::from_millis(100),
                        max: Duration::from_secs(30),
                        multiplier: 2.0,
                        reset: Duration::from_secs(10),
                    },
                    output: actors::spec::OutputSpec::default(),
                    readiness: None,
                    health_check: None,
                }))],
            },
        },
    };
    assert_eq!(loaded, expected);
}

#[test]
fn profiles_apply_in_order_then_the_servers_own_settings() {
    let loaded = registry(
        "<supervisor>
          <profiles>
            <profile id='A'>
              <executable>/a</executable><workingDirectory>wa</workingDirectory>
              <arguments><argument>a1</argument><argument>a2</argument></arguments>
              <environment inherit='false'><variable name='X'>a</variable></environment>
              <stopTimeout>1</stopTimeout><backoff max='60' multiplier='3'/>
            </profile>
            <profile id='B'>
              <executable>/b</executable>
              <arguments><argument>b1</argument></arguments>
              <environment><variable name='X'>b</variable></environment>
              <backoff max='50'/>
            </profile>
          </profiles>
          <servers>
            <server id='s'>
              <arguments><argument>s1</argument></arguments>
              <profile ref='A'/><profile ref='B'/>
              <environment inherit='true'><variable name='Y'>s</variable></environment>
              <backoff initial='1'/>
            </server>
          </servers>
        </supervisor>",
    );
    let s = components(&loaded.tree.root)[0];
    assert_eq!(s.command.executable, Path::new("/b"));
    assert_eq!(
        s.command.working_directory.as_deref(),
        Some(Path::new("/etc/sv/wa"))
    );
    assert_eq!(s.command.arguments, ["a1", "a2", "b1", "s1"]);
    let variables: Vec<(&str, &str)> = s
        .command
        .environment
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(variables, [("X", "a"), ("X", "b"), ("Y", "s")]);
    assert!(s.command.inherit_environment);
    assert_eq!(s.stop_timeout, Duration::from_secs(1));
    let backoff = (s.backoff.initial, s.backoff.max, s.backoff.multiplier);
    assert_eq!(
        backoff,
        (Duration::from_secs(1), Duration::from_secs(50), 3.0)
    );
}

#[test]
fn inherit_false_from_a_profile_holds_unless_overridden() {
    let loaded = registry(
        "<supervisor><profiles><profile id='P'><environment inherit='false'/></profile>\
         </profiles><servers><server id='s'><profile ref='P'/><executable>x</executable>\
         <environment><variable name='V'>1</variable></environment></server></servers>\
         </supervisor>",
    );
    assert!(!components(&loaded.tree.root)[0].command.inherit_environment);
}

#[test]
fn the_environment_is_user_then_variables_then_tmpdir() {
    let loaded = registry(
        "<supervisor><config><temp>./tmp</temp></config><servers>\
           <server id='s'><executable>x</executable><user>root</user>\
             <environment><variable name='HOME'>/h</variable><variable name='E'> e </variable>\
             </environment></server>\
         </servers></supervisor>",
    );
    let command = &components(&loaded.tree.root)[0].command;
    let variables: Vec<(&str, &str)> = command
        .environment
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let root = nix::unistd::User::from_name("root").unwrap().unwrap();
    let home = root.dir.to_str().unwrap();
    assert_eq!(
        variables,
        [
            ("HOME", home),
            ("USER", "root"),
            ("LOGNAME", "root"),
            ("HOME", "/h"),
            ("E", " e "),
            ("TMPDIR", "/etc/sv/tmp"),
        ]
    );
    assert_eq!(command.user.as_ref().map(|u| u.uid), Some(0));
}

#[test]
fn arguments_are_verbatim_and_other_text_is_trimmed() {
    let loaded = registry(
        "<supervisor><servers><server id='s'>
           <executable>
             bin/is
           </executable>
           <description>  Image   Server </description>
           <arguments>
             <argument>  two  spaces  </argument><argument/><argument></argument>
             <argument>a &amp; b &lt;c&gt; &#x41;</argument><argument><![CDATA[<raw>]]></argument>
             <argument>; touch /tmp/pwned $(id)</argument>
           </arguments>
         </server></servers></supervisor>",
    );
    let s = components(&loaded.tree.root)[0];
    assert_eq!(s.command.executable, Path::new("/etc/sv/bin/is"));
    assert_eq!(s.description, "Image   Server");
    assert_eq!(
        s.command.arguments,
        [
            "  two  spaces  ",
            "",
            "",
            "a & b <c> A",
            "<raw>",
            "; touch /tmp/pwned $(id)"
        ]
    );
}

#[test]
fn relative_paths_follow_the_registry_file_and_bare_names_stay_bare() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf/SupervisorRegistry.xml");
    let text = "<supervisor><config><log>../logs/sv.log</log><temp>/var/tmp/sv</temp></config>\
        <servers>\
          <server id='a'><executable>./bin/a</executable><workingDirectory>.</workingDirectory></server>\
          <server id='b'><executable>java</executable></server>\
          <server id='c'><executable>/opt/c</executable></server>\
        </servers></supervisor>";
    let loaded = parse(&path, text).unwrap();
    let conf = dir.path().join("conf");
    assert_eq!(loaded.path, path);
    assert_eq!(loaded.config.log, conf.join("../logs/sv.log"));
    assert_eq!(
        loaded.config.temp.as_deref(),
        Some(Path::new("/var/tmp/sv"))
    );
    let all = components(&loaded.tree.root);
    assert_eq!(all[0].command.executable, conf.join("bin/a"));
    assert_eq!(
        all[0].command.working_directory.as_deref(),
        Some(conf.as_path())
    );
    assert_eq!(all[1].command.executable, Path::new("java"));
    assert_eq!(all[2].command.executable, Path::new("/opt/c"));
}

#[test]
fn a_relative_registry_path_is_made_absolute() {
    let loaded = parse(
        Path::new("SupervisorRegistry.xml"),
        "<supervisor><servers/></supervisor>",
    );
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(loaded.unwrap().config.log, cwd.join("logs/Supervisor.log"));
}

#[test]
fn the_tree_keeps_document_order_groups_and_their_strategies() {
    let loaded = registry(
        "<supervisor><restartStrategy type='rest_for_one'/><servers>\
           <server id='a'><executable>x</executable><startPriority>3</startPriority></server>\
           <group id='g'><startPriority>0</startPriority>\
             <server id='b'><executable>x</executable></server>\
             <restartStrategy intensity='1' period='250ms'/>\
           </group>\
           <server id='c'><executable>x</executable></server>\
         </servers></supervisor>",
    );
    let root = &loaded.tree.root;
    assert_eq!(root.strategy, Strategy::RestForOne);
    assert_eq!(root.intensity.max_restarts, 5);
    let ids: Vec<(&str, u32)> = root
        .children
        .iter()
        .map(|c| (c.id(), c.start_priority()))
        .collect();
    assert_eq!(ids, [("a", 3), ("g", 0), ("c", 1)]);
    let ChildSpec::Group(group) = &root.children[1] else {
        panic!("not a group")
    };
    assert_eq!(group.strategy, Strategy::OneForOne);
    let intensity = Intensity {
        max_restarts: 1,
        period: Duration::from_millis(250),
    };
    assert_eq!(group.intensity, intensity);
}

#[test]
fn value_errors_point_at_the_value() {
    let text = "<supervisor><servers><server id='a'>\n<executable>x</executable>\n\
                <startDelay>\n   5x  \n</startDelay></server></servers></supervisor>";
    assert!(only_error(text).starts_with("4:4: `<startDelay>`: `5x` is not a duration"));
    let empty = "<supervisor><config><log>  </log></config><servers/></supervisor>";
    assert_eq!(only_error(empty), "1:21: `<log>`: the value is empty");
    let attribute = "<supervisor><restartStrategy period=' 0 '/><servers/></supervisor>";
    assert_eq!(
        only_error(attribute),
        "1:39: `<restartStrategy>` attribute `period`: the period must be longer than 0"
    );
}

#[test]
fn an_empty_executable_is_one_error_not_two() {
    let text = "<supervisor><servers><server id='a'><executable/></server></servers></supervisor>";
    assert_eq!(only_error(text), "1:37: `<executable>`: the value is empty");
}

#[test]
fn an_unknown_user_from_a_profile_is_reported_once() {
    let text = "<supervisor><profiles><profile id='p'><user>no-such-user-xq7</user></profile>\
        </profiles><servers><server id='a'><profile ref='p'/><executable>x</executable></server>\
        <server id='b'><profile ref='p'/><executable>x</executable></server></servers></supervisor>";
    assert_eq!(
        only_error(text),
        "1:45: `<user>`: unknown user `no-such-user-xq7`"
    );
}

#[test]
fn stats_interval_is_off_or_at_least_a_second() {
    let with = |value: &str| {
        let text = format!(
            "<supervisor><config><tracestatsinterval>{value}</tracestatsinterval></config>\
             <servers/></supervisor>"
        );
        parse(Path::new("/r.xml"), &text).map(|r| r.config.stats_interval)
    };
    assert_eq!(with("0"), Ok(None));
    assert_eq!(with("2m"), Ok(Some(Duration::from_secs(120))));
    assert!(with("500ms").unwrap_err().to_string().contains("too short"));
}

#[test]
fn a_profile_cannot_refer_to_a_profile() {
    let text = "<supervisor><profiles><profile id='p'><profile ref='q'/></profile></profiles>\
                <servers/></supervisor>";
    assert!(only_error(text).starts_with("1:39: unknown element `<profile>` in `<profile>`"));
}

#[test]
fn every_container_checks_its_attributes_and_ids_are_required() {
    let text = "<supervisor v='1'>\n<config c=''/>\n<profiles p=''/>\n<servers s=''>\n\
                <group id='g' x=''/>\n<group/>\n<server><executable>x</executable></server>\n\
                </servers></supervisor>";
    let RegistryError(diagnostics) = parse(Path::new("r.xml"), text).unwrap_err();
    let got: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(
        got,
        [
            "1:13: unknown attribute `v` on `<supervisor>`; it takes no attributes",
            "2:9: unknown attribute `c` on `<config>`; it takes no attributes",
            "3:11: unknown attribute `p` on `<profiles>`; it takes no attributes",
            "4:10: unknown attribute `s` on `<servers>`; it takes no attributes",
            "5:15: unknown attribute `x` on `<group>`; allowed: `id`",
            "6:1: `<group>` needs the attribute `id`",
            "7:1: `<server>` needs the attribute `id`",
        ]
    );
}
