//! Tests of the loader as a whole, through [`load`] and [`parse`]: the fixture corpus shared with
//! `tests/integration/registry_errors.rs`, generated hostile inputs (huge, deep, many nodes), and the resolved
//! result (defaults, profile merging, environment, paths).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actors::spec::{
    Backoff, ChildSpec, CommandSpec, ComponentSpec, GroupSpec, HealthCheckSpec, Intensity,
    OutputSpec, Overflow, Probe, ReadinessSpec, RestartType, StderrMode, StdoutMode, Strategy,
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

/// The diagnostics `text` gives (it must not load).
fn diagnostics(text: &str) -> Vec<Diagnostic> {
    let RegistryError(diagnostics) = parse(Path::new("r.xml"), text).unwrap_err();
    diagnostics
}

/// A diagnostic as `LINE:COL: message`.
fn located(d: &Diagnostic) -> String {
    format!("{}:{}: {}", d.line, d.column, d.message)
}

/// Every diagnostic `text` gives, as `LINE:COL: message`.
fn errors(text: &str) -> Vec<String> {
    diagnostics(text).iter().map(located).collect()
}

/// The single diagnostic `text` gives, as `LINE:COL: message`.
fn only_error(text: &str) -> String {
    let diagnostics = diagnostics(text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    located(&diagnostics[0])
}

// A 100 MB file is refused before it is read: the `hostile` suite's `huge-100mb.xml`, end to
// end (the exit, the position, the time and memory, nothing started).

#[test]
fn one_byte_over_the_limit_is_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xml");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"<supervisor><servers/></supervisor>")
        .unwrap();
    file.write_all(&vec![b' '; MAX_BYTES as usize - 35 + 1])
        .unwrap();
    let expected = format!("too large ({} bytes)", MAX_BYTES + 1);
    assert!(load(&path).unwrap_err().to_string().contains(&expected));
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
    assert!(
        directory.contains(":1:1: not a regular file (a directory)"),
        "{directory}"
    );
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
        "<x/>".repeat(NODES_LIMIT as usize + 1)
    );
    assert_eq!(
        only_error(&text),
        format!("1:1: the registry has more than {NODES_LIMIT} XML nodes")
    );
}

#[test]
fn a_flood_of_errors_is_capped() {
    let text = format!(
        "<supervisor><servers>{}</servers></supervisor>",
        "<x/>".repeat(500)
    );
    let diagnostics = diagnostics(&text);
    assert_eq!(diagnostics.len(), 101);
    assert!(
        diagnostics[100]
            .message
            .contains("too many errors (500 in all)")
    );
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
            assert!(
                diagnostics
                    .iter()
                    .all(|d| d.line >= 1 && d.line <= lines && d.column >= 1)
            );
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
        includes: vec![],
        config: DaemonConfig {
            tcp_port: None,
            tcp_bind: None,
            log: PathBuf::from("/etc/sv/logs/Supervisor.log"),
            temp: None,
            trace_level: 2,
            stats_interval: None,
            log_retention_days: 10,
            log_time: Zone::Local,
            home: PathBuf::from("/etc/sv"),
        },
        tree: TreeSpec {
            root: GroupSpec {
                id: String::new(),
                strategy: Strategy::OneForOne,
                intensity: None,
                start_priority: 0,
                children: vec![ChildSpec::Component(std::sync::Arc::new(ComponentSpec {
                    id: "a".into(),
                    description: String::new(),
                    command: CommandSpec {
                        executable: PathBuf::from("sleep"),
                        arguments: vec![],
                        inherit_environment: true,
                        environment: vec![],
                        working_directory: None,
                        user: None,
                        unknown_user: None,
                        environment_files: vec![],
                        settings: actors::spec::ProcessSettings::DEFAULT,
                        temp_dir: None,
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
                    sockets: Vec::new(),
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
fn the_environment_is_user_then_variables_and_tmpdir_is_the_temp_dir() {
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
        ]
    );
    // `TMPDIR` is set at each start from the command's `temp_dir` (a reload changes it in place).
    assert_eq!(command.temp_dir, Some(PathBuf::from("/etc/sv/tmp")));
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
    assert_eq!(root.intensity.unwrap().max_restarts, 5);
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
    assert_eq!(group.intensity, Some(intensity));
}

/// The root's intensity, and that of its one nested group, for `head` at the top and
/// `inner` inside the group.
fn intensities(head: &str, inner: &str) -> (Option<Intensity>, Option<Intensity>) {
    let loaded = registry(&format!(
        "<supervisor>{head}<servers>\
           <group id='g'>{inner}<server id='a'><executable>x</executable></server></group>\
         </servers></supervisor>"
    ));
    let ChildSpec::Group(group) = &loaded.tree.root.children[0] else {
        panic!("not a group")
    };
    (loaded.tree.root.intensity, group.intensity)
}

#[test]
fn the_root_never_gives_up_unless_it_has_a_restart_strategy() {
    let otp = Some(Intensity {
        max_restarts: 5,
        period: Duration::from_secs(30),
    });
    // No element: the root never gives up; a nested group keeps OTP's defaults.
    assert_eq!(intensities("", ""), (None, otp));
    // An element, even with no attributes: OTP semantics at the defaults.
    assert_eq!(intensities("<restartStrategy/>", ""), (otp, otp));
    let strategy = "<restartStrategy type='one_for_all'/>";
    assert_eq!(intensities(strategy, strategy), (otp, otp));
    let written = "<restartStrategy intensity='0' period='1'/>";
    let zero = Some(Intensity {
        max_restarts: 0,
        period: Duration::from_secs(1),
    });
    assert_eq!(intensities(written, written), (zero, zero));
}

#[test]
fn intensity_takes_the_whole_u32_range() {
    let most = "<restartStrategy intensity='4294967295'/>";
    let (root, group) = intensities(most, most);
    assert_eq!(root.map(|i| i.max_restarts), Some(u32::MAX));
    assert_eq!(group.map(|i| i.max_restarts), Some(u32::MAX));
    let beyond = "<supervisor><restartStrategy intensity='4294967296'/><servers/></supervisor>";
    assert_eq!(
        only_error(beyond),
        "1:41: `<restartStrategy>` attribute `intensity`: `4294967296` is out of range \
         0..=4294967295"
    );
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
fn an_unknown_user_is_the_environment_s_problem_not_the_registry_s() {
    let text = "<supervisor><profiles><profile id='p'><user>no-such-user-xq7</user></profile>\
        </profiles><servers><server id='a'><profile ref='p'/><executable>x</executable></server>\
        <server id='b'><user>root</user><executable>x</executable></server></servers></supervisor>";
    let registry = parse(Path::new("r.xml"), text).expect("a valid registry");
    let [a, b] = &registry.tree.root.components()[..] else {
        panic!("two components")
    };
    assert_eq!(
        a.command.unknown_user.as_deref(),
        Some("unknown user `no-such-user-xq7`")
    );
    assert!(a.command.user.is_none());
    // The control: a user the host has is looked up.
    assert_eq!(
        (
            b.command.user.as_ref().map(|u| u.uid),
            &b.command.unknown_user
        ),
        (Some(0), &None)
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
    assert_eq!(
        errors(text),
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

/// The one server `a` of a registry whose settings (after its executable) are `settings`,
/// which start at line 2, column 1.
fn with_settings(settings: &str) -> String {
    format!(
        "<supervisor><servers><server id='a'><executable>x</executable>\n{settings}\n\
         </server></servers></supervisor>"
    )
}

/// Server `a` with `settings`, loaded from /etc/sv.
fn server_with(settings: &str) -> ComponentSpec {
    let loaded = registry(&with_settings(settings));
    components(&loaded.tree.root)[0].clone()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn output_reads_every_attribute() {
    let a = server_with(
        "<output log='false' file='logs/{id}-{date}.log' maxSize='10MB' keep='3' \
         timestamps='false' stdout='inherit' stderr='merge' overflow='drop'/>",
    );
    let expected = OutputSpec {
        log: false,
        file: Some(PathBuf::from("/etc/sv/logs/a-{date}.log")),
        max_size: Some(10 << 20),
        keep: 3,
        timestamps: false,
        stdout: StdoutMode::Inherit,
        stderr: StderrMode::Merge,
        overflow: Overflow::Drop,
    };
    assert_eq!(a.output, expected);
    let modes = |attributes: &str| server_with(&format!("<output {attributes}/>")).output;
    assert_eq!(modes("stdout='null'").stdout, StdoutMode::Null);
    assert_eq!(modes("stdout='capture'").stdout, StdoutMode::Capture);
    assert_eq!(modes("stderr='null'").stderr, StderrMode::Null);
    assert_eq!(modes("stderr='inherit'").stderr, StderrMode::Inherit);
    assert_eq!(modes("stderr='separate'").stderr, StderrMode::Separate);
    assert_eq!(modes("overflow='block'").overflow, Overflow::Block);
    assert!(modes("log='true' timestamps='true'").log);
    assert_eq!(modes("file='x' maxSize='1024'").max_size, Some(1024));
    assert_eq!(modes("file='x' maxSize='2GB'").max_size, Some(2 << 30));
    assert_eq!(modes("file='x' keep='1000'").keep, 1000);
    assert_eq!(modes("file='x' keep='1'").keep, 1);
}

#[test]
fn an_empty_output_element_or_none_gives_the_defaults() {
    assert_eq!(server_with("<output/>").output, OutputSpec::default());
    assert_eq!(server_with("").output, OutputSpec::default());
    assert_eq!(server_with("").readiness, None);
    assert_eq!(server_with("").health_check, None);
}

#[test]
fn output_file_takes_the_server_id_keeps_the_date_and_follows_the_registry() {
    let loaded = registry(
        "<supervisor><profiles><profile id='P'>\
           <output file='{id}/{id}.{date}.log'/></profile></profiles><servers>\
           <server id='web-1'><profile ref='P'/><executable>x</executable></server>\
           <server id='db'><profile ref='P'/><executable>x</executable></server>\
           <server id='abs'><executable>x</executable><output file='/var/log/{id}.log'/></server>\
           <server id='dot'><executable>x</executable><output file='./../{date}/{id}'/></server>\
         </servers></supervisor>",
    );
    let files: Vec<PathBuf> = components(&loaded.tree.root)
        .iter()
        .map(|c| c.output.file.clone().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            PathBuf::from("/etc/sv/web-1/web-1.{date}.log"),
            PathBuf::from("/etc/sv/db/db.{date}.log"),
            PathBuf::from("/var/log/abs.log"),
            PathBuf::from("/etc/sv/../{date}/dot"),
        ]
    );
}

#[test]
fn readiness_reads_every_probe_kind_and_its_timing() {
    let readiness = |element: &str| server_with(element).readiness.unwrap();
    let tcp = readiness("<readiness tcp=' localhost:8080 '/>");
    let expected = ReadinessSpec {
        probe: Probe::Tcp {
            address: "localhost:8080".into(),
        },
        interval: Duration::from_millis(100),
        timeout: secs(60),
    };
    assert_eq!(tcp, expected);
    let http =
        readiness("<readiness http='http://[::1]:8080/ready?full=1' interval='1s' timeout='2m'/>");
    let expected = ReadinessSpec {
        probe: Probe::Http {
            address: "[::1]:8080".into(),
            host: "[::1]:8080".into(),
            path: "/ready?full=1".into(),
        },
        interval: secs(1),
        timeout: secs(120),
    };
    assert_eq!(http, expected);
    let http = readiness("<readiness http='http://example.com'/>").probe;
    let expected = Probe::Http {
        address: "example.com:80".into(),
        host: "example.com".into(),
        path: "/".into(),
    };
    assert_eq!(http, expected);
    let exec = readiness(
        "<readiness exec='bin/ready'>\n  <argument> --port </argument><argument/>\n\
         <!-- c --></readiness>",
    );
    let expected = Probe::Exec {
        program: PathBuf::from("/etc/sv/bin/ready"),
        arguments: vec![" --port ".into(), String::new()],
    };
    assert_eq!(exec.probe, expected);
    let bare = readiness("<readiness exec='pg_isready'/>").probe;
    let expected = Probe::Exec {
        program: PathBuf::from("pg_isready"),
        arguments: vec![],
    };
    assert_eq!(bare, expected);
    let notify = readiness("<readiness notify='true' watchdog='30s' timeout='10'/>");
    let expected = ReadinessSpec {
        probe: Probe::Notify {
            watchdog: Some(secs(30)),
        },
        interval: Duration::from_millis(100),
        timeout: secs(10),
    };
    assert_eq!(notify, expected);
    let plain = readiness("<readiness notify='true'/>").probe;
    assert_eq!(plain, Probe::Notify { watchdog: None });
}

#[test]
fn health_check_reads_every_attribute() {
    let health = |element: &str| server_with(element).health_check.unwrap();
    let defaults = health("<healthCheck tcp='127.0.0.1:9'/>");
    let expected = HealthCheckSpec {
        probe: Probe::Tcp {
            address: "127.0.0.1:9".into(),
        },
        interval: secs(10),
        timeout: secs(2),
        failures: 3,
        start_after: Duration::ZERO,
    };
    assert_eq!(defaults, expected);
    let all = health(
        "<healthCheck http='http://h:81/health' interval='30' timeout='500ms' failures='1000' \
         startAfter='1m'/>",
    );
    let expected = HealthCheckSpec {
        probe: Probe::Http {
            address: "h:81".into(),
            host: "h:81".into(),
            path: "/health".into(),
        },
        interval: secs(30),
        timeout: Duration::from_millis(500),
        failures: 1000,
        start_after: secs(60),
    };
    assert_eq!(all, expected);
    let exec =
        health("<healthCheck exec='./check' failures='1'><argument>-v</argument></healthCheck>");
    let expected = Probe::Exec {
        program: PathBuf::from("/etc/sv/check"),
        arguments: vec!["-v".into()],
    };
    assert_eq!((exec.probe, exec.failures), (expected, 1));
}

#[test]
fn output_and_checks_merge_attribute_by_attribute_across_profiles_and_the_server() {
    let loaded = registry(
        "<supervisor>
          <profiles>
            <profile id='Logs'>
              <output file='logs/{id}.log' maxSize='1MB' stderr='merge'/>
              <readiness exec='bin/probe' timeout='5'><argument>-a</argument></readiness>
              <healthCheck http='http://h/health' failures='5' interval='20'/>
            </profile>
            <profile id='Notify'>
              <readiness notify='true' watchdog='9'/>
            </profile>
          </profiles>
          <servers>
            <server id='own-kind'>
              <profile ref='Logs'/><executable>x</executable>
              <output keep='4' maxSize='2MB'/>
              <readiness tcp='h:1' interval='1'/>
              <healthCheck startAfter='3'/>
            </server>
            <server id='inherited-kind'>
              <profile ref='Logs'/><executable>x</executable>
              <readiness interval='2'/>
            </server>
            <server id='later-profile'>
              <profile ref='Logs'/><profile ref='Notify'/><executable>x</executable>
            </server>
          </servers>
        </supervisor>",
    );
    let all = components(&loaded.tree.root);
    let (own, inherited, later) = (all[0], all[1], all[2]);
    let output = &own.output;
    assert_eq!(
        output.file.as_deref(),
        Some(Path::new("/etc/sv/logs/own-kind.log"))
    );
    assert_eq!(
        (output.max_size, output.keep, output.stderr),
        (Some(2 << 20), 4, StderrMode::Merge)
    );
    assert_eq!(output.stdout, StdoutMode::Capture);
    // A kind named by the server replaces the profile's probe and its arguments; the timing the
    // server leaves out still comes from the profile.
    let expected = ReadinessSpec {
        probe: Probe::Tcp {
            address: "h:1".into(),
        },
        interval: secs(1),
        timeout: secs(5),
    };
    assert_eq!(own.readiness.as_ref(), Some(&expected));
    let expected = HealthCheckSpec {
        probe: Probe::Http {
            address: "h:80".into(),
            host: "h".into(),
            path: "/health".into(),
        },
        interval: secs(20),
        timeout: secs(2),
        failures: 5,
        start_after: secs(3),
    };
    assert_eq!(own.health_check.as_ref(), Some(&expected));
    // No kind in the server: the profile's probe stays, arguments and all.
    let expected = ReadinessSpec {
        probe: Probe::Exec {
            program: PathBuf::from("/etc/sv/bin/probe"),
            arguments: vec!["-a".into()],
        },
        interval: secs(2),
        timeout: secs(5),
    };
    assert_eq!(inherited.readiness.as_ref(), Some(&expected));
    assert_eq!(inherited.output.max_size, Some(1 << 20));
    assert_eq!(
        inherited.output.file.as_deref(),
        Some(Path::new("/etc/sv/logs/inherited-kind.log"))
    );
    // A later profile's kind replaces an earlier one's, with its watchdog.
    let expected = ReadinessSpec {
        probe: Probe::Notify {
            watchdog: Some(secs(9)),
        },
        interval: Duration::from_millis(100),
        timeout: secs(5),
    };
    assert_eq!(later.readiness.as_ref(), Some(&expected));
}

#[test]
fn merge_time_errors_point_into_the_layer_that_holds_the_attribute() {
    let text = "<supervisor><profiles>\n\
                <profile id='P'><output maxSize='1MB'/><readiness timeout='3'/></profile>\n\
                </profiles><servers>\n\
                <server id='a'><profile ref='P'/><executable>x</executable></server>\n\
                <server id='b'><profile ref='P'/><executable>x</executable>\
                <output file='b.log'/><readiness tcp='h:1'/></server>\n\
                </servers></supervisor>";
    assert_eq!(
        errors(text),
        [
            "2:25: `<output>` attribute `maxSize` needs `file`; server `a` has none, neither in \
             its own `<output>` nor from a profile",
            "2:40: `<readiness>` of server `a` names no probe; give exactly one of `tcp`, \
             `http`, `exec`, `notify`, `socket`, on this element or on a profile's",
        ]
    );
}

#[test]
fn output_errors_point_at_the_attribute_or_its_value() {
    let allowed = "`log`, `file`, `maxSize`, `keep`, `timestamps`, `stdout`, `stderr`, `overflow`";
    let size_help = "write a whole number of bytes, or one with a unit `B`, `KB`, `MB` or `GB` \
                     (powers of 1024: `10MB` is 10485760 bytes)";
    let size_range = "is out of range: a size is at least 1KB and at most 1024GB";
    let placeholders = "the only placeholders are `{id}` (the server id) and `{date}` (the day)";
    let no_file = "needs `file`; server `a` has none, neither in its own `<output>` nor from a \
                   profile";
    for (setting, expected) in [
        (
            "<output rotate='daily'/>",
            format!("2:9: unknown attribute `rotate` on `<output>`; allowed: {allowed}"),
        ),
        (
            "<output log='yes'/>",
            "2:14: `<output>` attribute `log`: `yes` is not one of `true`, `false`".into(),
        ),
        (
            "<output file=' '/>",
            "2:16: `<output>` attribute `file`: the value is empty".into(),
        ),
        (
            "<output file='{x}.log'/>",
            format!(
                "2:15: `<output>` attribute `file`: unknown placeholder `{{x}}`; {placeholders}"
            ),
        ),
        (
            "<output file='a{id'/>",
            format!("2:15: `<output>` attribute `file`: `a{{id` has a stray `{{`; {placeholders}"),
        ),
        (
            "<output file='a}'/>",
            format!("2:15: `<output>` attribute `file`: `a}}` has a stray `}}`; {placeholders}"),
        ),
        (
            "<output file='x' maxSize='10mb'/>",
            format!("2:27: `<output>` attribute `maxSize`: `10mb` is not a size; {size_help}"),
        ),
        (
            "<output file='x' maxSize='1023'/>",
            format!("2:27: `<output>` attribute `maxSize`: `1023` {size_range}"),
        ),
        (
            "<output file='x' maxSize='1025GB'/>",
            format!("2:27: `<output>` attribute `maxSize`: `1025GB` {size_range}"),
        ),
        (
            "<output file='x' keep='1001'/>",
            "2:24: `<output>` attribute `keep`: `1001` is out of range 1..=1000".into(),
        ),
        (
            "<output file='x' keep='0'/>",
            "2:24: `<output>` attribute `keep`: `0` is out of range 1..=1000".into(),
        ),
        (
            "<output timestamps='1'/>",
            "2:21: `<output>` attribute `timestamps`: `1` is not one of `true`, `false`".into(),
        ),
        (
            "<output stdout='pipe'/>",
            "2:17: `<output>` attribute `stdout`: `pipe` is not one of `capture`, `inherit`, \
             `null`"
                .into(),
        ),
        (
            "<output stderr='stdout'/>",
            "2:17: `<output>` attribute `stderr`: `stdout` is not one of `separate`, `merge`, \
             `inherit`, `null`"
                .into(),
        ),
        (
            "<output overflow='wait'/>",
            "2:19: `<output>` attribute `overflow`: `wait` is not one of `block`, `drop`".into(),
        ),
        (
            "<output> x</output>",
            "2:10: `<output>` must be empty: it has only attributes".into(),
        ),
        (
            "<output maxSize='1KB'/>",
            format!("2:9: `<output>` attribute `maxSize` {no_file}"),
        ),
        (
            "<output log='false' keep='2'/>",
            format!("2:21: `<output>` attribute `keep` {no_file}"),
        ),
        (
            "<output/><output/>",
            "2:10: second `<output>` in `<server>` (the first is on line 2); it may appear only \
             once"
                .into(),
        ),
    ] {
        assert_eq!(only_error(&with_settings(setting)), expected, "{setting}");
    }
}

#[test]
fn an_invalid_file_does_not_also_make_max_size_complain() {
    let text = with_settings("<output file='{x}' maxSize='1MB' keep='2'/>");
    assert!(only_error(&text).contains("unknown placeholder `{x}`"));
}

#[test]
fn readiness_errors_point_at_the_element_the_attribute_or_its_value() {
    let kinds = "give exactly one of `tcp`, `http`, `exec`, `notify`, `socket`";
    let tcp = "2:17: `<readiness>` attribute `tcp`";
    let http = "2:18: `<readiness>` attribute `http`";
    let allowed = "`tcp`, `http`, `exec`, `notify`, `socket`, `interval`, `timeout`, `watchdog`";
    let longer = "the duration must be longer than 0";
    for (setting, expected) in [
        (
            "<readiness timeout='5'/>",
            format!(
                "2:1: `<readiness>` of server `a` names no probe; {kinds}, on this element or on a profile's"
            ),
        ),
        (
            "<readiness/>",
            format!(
                "2:1: `<readiness>` of server `a` names no probe; {kinds}, on this element or on a profile's"
            ),
        ),
        (
            "<readiness tcp='h:1' exec='x' notify='true'/>",
            format!("2:1: `<readiness>` names 3 probes (`tcp`, `exec`, `notify`); {kinds}"),
        ),
        (
            "<readiness tcp='localhost'/>",
            format!("{tcp}: `localhost` has no port; write `HOST:PORT`, like `127.0.0.1:8080`"),
        ),
        (
            "<readiness tcp=':80'/>",
            format!("{tcp}: `:80`: the host is empty"),
        ),
        (
            "<readiness tcp='::1:80'/>",
            format!(
                "{tcp}: `::1:80`: an IPv6 host goes in brackets, like `[::1]:8080` (found `::1`)"
            ),
        ),
        (
            "<readiness tcp='[::g]:80'/>",
            format!("{tcp}: `[::g]:80`: `[::g]` is not an IPv6 address in brackets"),
        ),
        (
            "<readiness tcp='my host:80'/>",
            format!(
                "{tcp}: `my host:80`: `my host` is not a host: use a name (letters, digits, `.`, \
                 `-`, `_`), an IPv4 address or an IPv6 address in brackets"
            ),
        ),
        (
            "<readiness tcp='h:65536'/>",
            format!("{tcp}: `h:65536`: port `65536` is out of range 1..=65535"),
        ),
        (
            "<readiness tcp='h:http'/>",
            format!("{tcp}: `h:http`: port `http` is not a whole number in 1..=65535"),
        ),
        (
            "<readiness tcp='http://h:80'/>",
            format!(
                "{tcp}: `http://h:80` is not `HOST:PORT`; write it without a scheme, like `127.0.0.1:8080`"
            ),
        ),
        (
            "<readiness http='https://h/'/>",
            format!(
                "{http}: `https://h/`: only `http://` URLs are probed (no TLS); use `http://` or a `tcp` probe"
            ),
        ),
        (
            "<readiness http='h:80/x'/>",
            format!(
                "{http}: `h:80/x` is not an `http://` URL; write it like `http://127.0.0.1:8080/health`"
            ),
        ),
        (
            "<readiness http='http:///x'/>",
            format!("{http}: `http:///x`: the host is empty"),
        ),
        (
            "<readiness http='http://u@h/'/>",
            format!("{http}: `http://u@h/`: user info (`…@`) is not allowed in the URL"),
        ),
        (
            "<readiness http='http://h/#top'/>",
            format!("{http}: `http://h/#top`: a fragment (`#…`) is never sent; leave it out"),
        ),
        (
            "<readiness http='http://h/a b'/>",
            format!(
                "{http}: `http://h/a b`: the path holds ' '; percent-encode spaces, controls and non-ASCII"
            ),
        ),
        (
            "<readiness http='http://h:0/'/>",
            format!("{http}: `http://h:0/`: port `0` is out of range 1..=65535"),
        ),
        (
            "<readiness exec=' '/>",
            "2:19: `<readiness>` attribute `exec`: the value is empty".into(),
        ),
        (
            "<readiness notify='false'/>",
            "2:20: `<readiness>` attribute `notify`: `false` is not `true`; write \
             `notify=\"true\"` or leave `notify` out"
                .into(),
        ),
        (
            "<readiness tcp='h:1' watchdog='5'/>",
            "2:22: `<readiness>`: `watchdog` goes only with `notify=\"true\"` on the same element"
                .into(),
        ),
        (
            "<readiness exec='x' watchdog='5'/>",
            "2:21: `<readiness>`: `watchdog` goes only with `notify=\"true\"` on the same element"
                .into(),
        ),
        (
            "<readiness notify='true' watchdog='0'/>",
            format!("2:36: `<readiness>` attribute `watchdog`: `0`: {longer}"),
        ),
        (
            "<readiness tcp='h:1' interval='0'/>",
            format!("2:32: `<readiness>` attribute `interval`: `0`: {longer}"),
        ),
        (
            "<readiness tcp='h:1' timeout='0ms'/>",
            format!("2:31: `<readiness>` attribute `timeout`: `0ms`: {longer}"),
        ),
        (
            "<readiness tcp='h:1' interval='soon'/>",
            "2:32: `<readiness>` attribute `interval`: `soon` is not a duration; write seconds \
             (`5`, `0.25`) or a number with a unit (`250ms`, `5s`, `2m`)"
                .into(),
        ),
        (
            "<readiness tcp='h:1' failures='3'/>",
            format!("2:22: unknown attribute `failures` on `<readiness>`; allowed: {allowed}"),
        ),
        (
            "<readiness tcp='h:1'><argument>x</argument></readiness>",
            "2:22: `<argument>` in `<readiness>` goes only with an `exec` probe on the same \
             element"
                .into(),
        ),
        (
            "<readiness exec='p'><arguments/></readiness>",
            "2:21: unknown element `<arguments>` in `<readiness>`; allowed here: `<argument>`"
                .into(),
        ),
        (
            "<readiness exec='p'><argument a='1'/></readiness>",
            "2:31: unknown attribute `a` on `<argument>`; it takes no attributes".into(),
        ),
        (
            "<readiness exec='p'>now</readiness>",
            "2:21: unexpected text `now` in `<readiness>`; it holds elements only".into(),
        ),
        (
            "<readiness tcp='h:1'/><readiness tcp='h:2'/>",
            "2:23: second `<readiness>` in `<server>` (the first is on line 2); it may appear \
             only once"
                .into(),
        ),
    ] {
        assert_eq!(only_error(&with_settings(setting)), expected, "{setting}");
    }
}

#[test]
fn health_check_errors_point_at_the_element_the_attribute_or_its_value() {
    let kinds = "give exactly one of `tcp`, `http`, `exec`";
    let allowed = "`tcp`, `http`, `exec`, `interval`, `timeout`, `failures`, `startAfter`";
    let notify = "`<healthCheck>`: `notify` is for `<readiness>` only; a health check probes with \
                  `tcp`, `http` or `exec`";
    for (setting, expected) in [
        ("<healthCheck notify='true'/>", format!("2:14: {notify}")),
        (
            "<healthCheck tcp='h:1' notify='true'/>",
            format!("2:24: {notify}"),
        ),
        (
            "<healthCheck tcp='h:1' watchdog='5'/>",
            format!("2:24: unknown attribute `watchdog` on `<healthCheck>`; allowed: {allowed}"),
        ),
        (
            "<healthCheck interval='5'/>",
            format!(
                "2:1: `<healthCheck>` of server `a` names no probe; {kinds}, on this element or on a profile's"
            ),
        ),
        (
            "<healthCheck tcp='h:1' http='http://h/'/>",
            format!("2:1: `<healthCheck>` names 2 probes (`tcp`, `http`); {kinds}"),
        ),
        (
            "<healthCheck tcp='h:1' failures='0'/>",
            "2:34: `<healthCheck>` attribute `failures`: `0` is out of range 1..=1000".into(),
        ),
        (
            "<healthCheck tcp='h:1' failures='1001'/>",
            "2:34: `<healthCheck>` attribute `failures`: `1001` is out of range 1..=1000".into(),
        ),
        (
            "<healthCheck tcp='h:1' startAfter='-1'/>",
            "2:36: `<healthCheck>` attribute `startAfter`: `-1`: a duration cannot be negative"
                .into(),
        ),
        (
            "<healthCheck tcp='h:1' interval='0'/>",
            "2:34: `<healthCheck>` attribute `interval`: `0`: the duration must be longer than 0"
                .into(),
        ),
        (
            "<healthCheck tcp='h:1' timeout='0'/>",
            "2:33: `<healthCheck>` attribute `timeout`: `0`: the duration must be longer than 0"
                .into(),
        ),
        (
            "<healthCheck exec='x'><argument>a<b/></argument></healthCheck>",
            "2:34: `<argument>` holds text only; `<b>` is not allowed inside it".into(),
        ),
    ] {
        assert_eq!(only_error(&with_settings(setting)), expected, "{setting}");
    }
    let start_after = server_with("<healthCheck tcp='h:1' startAfter='0'/>").health_check;
    assert_eq!(start_after.unwrap().start_after, Duration::ZERO);
}

#[test]
fn profiles_may_hold_output_and_checks_too() {
    let text = "<supervisor><profiles><profile id='P'>\n\
                <output bogus='1'/><readiness tcp='h'/><healthCheck notify='true'/>\n\
                </profile></profiles><servers/></supervisor>";
    let got: Vec<String> = diagnostics(text)
        .iter()
        .map(|d| format!("{}:{}", d.line, d.column))
        .collect();
    assert_eq!(got, ["2:9", "2:36", "2:53"]);
}

#[test]
fn tcpport_takes_a_bind_address() {
    let with = |config: &str| {
        parse(
            Path::new("/etc/sv/SupervisorRegistry.xml"),
            &format!("<supervisor><config>{config}</config><servers/></supervisor>"),
        )
    };
    let plain = with("<tcpport>9910</tcpport>").unwrap().config;
    assert_eq!((plain.tcp_port, plain.tcp_bind), (Some(9910), None));
    let any = with("<tcpport bind='0.0.0.0'>9910</tcpport>")
        .unwrap()
        .config;
    assert_eq!(any.tcp_bind, Some("0.0.0.0".parse().unwrap()));
    let v6 = with("<tcpport bind=' ::1 '>9910</tcpport>").unwrap().config;
    assert_eq!(v6.tcp_bind, Some("::1".parse().unwrap()));
    let error = with("<tcpport bind='localhost'>9910</tcpport>").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`localhost` is not an IP address"),
        "{error}"
    );
}

#[test]
fn ten_thousand_plainly_written_servers_fit_the_limits() {
    let servers: String = (0..10_000)
        .map(|i| {
            format!(
                "<server id=\"server-{i:05}\"><executable>/usr/local/bin/my-service</executable>\
                 <arguments><argument>--port</argument><argument>{}</argument></arguments></server>\n",
                8000 + i
            )
        })
        .collect();
    let text = format!("<supervisor>\n<servers>\n{servers}</servers>\n</supervisor>\n");
    assert!(text.len() > 1 << 20, "more than the old 1 MiB cap");
    let registry = parse(Path::new("plain.xml"), &text).expect("fits");
    assert_eq!(registry.tree.root.components().len(), 10_000);
    // As SPEC's example writes one: indented, a setting a line (28 XML nodes a server).
    let servers: String = (0..10_000)
        .map(|i| {
            format!(
                "    <server id=\"is{i}\">\n      <description>Image Server</description>\n      \
                 <executable>/opt/bin/ImageServer</executable>\n      <arguments><argument>--port\
                 </argument><argument>27345</argument></arguments>\n      <startPriority>1\
                 </startPriority>\n      <startDelay>5</startDelay>\n      <stopTimeout>60\
                 </stopTimeout>\n      <restart>permanent</restart>\n    </server>\n"
            )
        })
        .collect();
    let text = format!("<supervisor>\n  <servers>\n{servers}  </servers>\n</supervisor>\n");
    let registry = parse(Path::new("spec.xml"), &text).expect("fits");
    assert_eq!(registry.tree.root.components().len(), 10_000);
}

#[test]
fn log_time_is_local_or_utc_and_anything_else_is_located() {
    let with = |value: &str| {
        format!(
            "<supervisor><config><logTime>{value}</logTime></config>\
             <servers><server id='a'><executable>sleep</executable></server></servers></supervisor>"
        )
    };
    assert_eq!(registry(&with("utc")).config.log_time, Zone::Utc);
    assert_eq!(registry(&with("local")).config.log_time, Zone::Local);
    let error = only_error(&with("gmt"));
    assert!(error.starts_with("1:30: "), "{error}");
    assert!(error.contains("`gmt`") && error.contains("utc"), "{error}");
}
