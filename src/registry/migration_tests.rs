//! Tests of what an Image Serving installation needs from the registry: trailing arguments,
//! `<home>`, the process settings, environment files and `<include>`d files, with the
//! positions of their errors (in the included file when that is where they are).

use std::path::{Path, PathBuf};

use actors::spec::{ComponentSpec, Limit, Resource, UNLIMITED};

use super::*;

/// A folder with the registry `main` as `conf/SupervisorRegistry.xml` and `files` beside it
/// (paths relative to `conf/`).
fn installation(main: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    for (name, text) in files {
        let path = conf.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::create_dir_all(&conf).unwrap();
    let registry = conf.join("SupervisorRegistry.xml");
    std::fs::write(&registry, main).unwrap();
    (dir, registry)
}

/// The diagnostics of loading `registry`, each as `PATH:LINE:COL: message` with the
/// installation folder cut off the path.
fn problems_of(dir: &tempfile::TempDir, registry: &Path) -> Vec<String> {
    let error = load(registry).expect_err("the registry must not load");
    let root = format!("{}/", dir.path().display());
    error
        .0
        .iter()
        .map(|d| d.to_string().replace(&root, ""))
        .collect()
}

fn server(text: &str) -> ComponentSpec {
    let registry = parse(Path::new("/etc/sv/r.xml"), text).unwrap_or_else(|e| panic!("{e}"));
    registry.tree.root.components()[0].clone()
}

#[test]
fn trailing_arguments_come_after_every_layers_arguments() {
    let text = "<supervisor><profiles>\
          <profile id='Java'><executable>java</executable>\
            <arguments><argument>-server</argument></arguments></profile>\
          <profile id='Tomcat'><arguments><argument>-Dcatalina.base=x</argument></arguments>\
            <trailingArguments><argument>Bootstrap</argument></trailingArguments></profile>\
        </profiles><servers><server id='ps'><profile ref='Java'/><profile ref='Tomcat'/>\
          <trailingArguments><argument>start</argument></trailingArguments>\
          <arguments><argument>-Xmx512m</argument></arguments>\
        </server></servers></supervisor>";
    let command = server(text).command;
    let expected = [
        "-server",
        "-Dcatalina.base=x",
        "-Xmx512m",
        "Bootstrap",
        "start",
    ];
    assert_eq!(command.arguments, expected);
}

#[test]
fn every_relative_path_follows_home_and_home_follows_the_registry() {
    let main = "<supervisor><config><home>..</home><temp>temp</temp></config>\
        <servers><server id='is'><executable>bin/ImageServer</executable>\
          <workingDirectory>.</workingDirectory><output file='logs/{id}.log'/>\
          <environment file='conf/is.env'/></server></servers></supervisor>";
    let (dir, path) = installation(main, &[]);
    let loaded = load(&path).unwrap();
    let home = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(loaded.config.home, home);
    assert_eq!(loaded.config.log, home.join("logs/Supervisor.log"));
    assert_eq!(loaded.config.temp, Some(home.join("temp")));
    let command = &loaded.tree.root.components()[0].command;
    assert_eq!(command.executable, home.join("bin/ImageServer"));
    assert_eq!(command.working_directory, Some(home.clone()));
    assert_eq!(command.environment_files, [home.join("conf/is.env")]);
    let output = &loaded.tree.root.components()[0].output;
    assert_eq!(output.file, Some(home.join("logs/is.log")));
    // Without <home>, the registry's folder.
    let plain = parse(
        Path::new("/etc/sv/r.xml"),
        "<supervisor><servers/></supervisor>",
    )
    .unwrap();
    assert_eq!(plain.config.home, Path::new("/etc/sv"));
}

#[test]
fn process_settings_merge_across_profiles_and_default_the_umask() {
    let text = "<supervisor><profiles><profile id='p'>\
          <limits><nofile soft='1024' hard='4096'/><core soft='unlimited' hard='unlimited'/></limits>\
          <nice>10</nice></profile></profiles>\
        <servers><server id='a'><profile ref='p'/><executable>x</executable>\
          <limits><nofile hard='8192'/><stack soft='8MB'/></limits>\
          <oomScoreAdjust>-500</oomScoreAdjust></server></servers></supervisor>";
    let settings = server(text).command.settings;
    let limit = |resource, soft, hard| Limit {
        resource,
        soft,
        hard,
    };
    assert_eq!(
        settings.limits,
        [
            limit(Resource::Nofile, Some(1024), Some(8192)),
            limit(Resource::Core, Some(UNLIMITED), Some(UNLIMITED)),
            limit(Resource::Stack, Some(8 << 20), None),
        ]
    );
    assert_eq!(settings.nice, Some(10));
    assert_eq!(settings.umask, 0o022);
    assert_eq!(settings.oom_score_adjust, Some(-500));
}

#[test]
fn process_setting_errors_point_at_what_is_wrong() {
    let text = "<supervisor><profiles><profile id='p'><limits><nofile soft='4096'/></limits>\
        </profile></profiles><servers>\n\
        <server id='a'><executable>x</executable><profile ref='p'/>\n\
        <limits><nofile hard='1024'/><fd soft='1'/><core/><nproc soft='2' hard='1'/></limits>\n\
        <nice>-21</nice><umask>999</umask><oomScoreAdjust>-1001</oomScoreAdjust>\n\
        <environment inherit='false'/><environment inherit='true' file=''/>\n\
        </server></servers></supervisor>";
    let (dir, path) = installation(text, &[]);
    let problems = problems_of(&dir, &path);
    let expected = [
        "3:9: `<nofile>`: with its profiles' settings, the soft limit (4096) is above the hard",
        "3:30: unknown element `<fd>` in `<limits>`",
        "3:44: `<core>` needs `soft`, `hard` or both",
        "3:51: `<nproc>`: the soft limit is above the hard one",
        "4:7: `<nice>`: `-21` is not a whole number in -20..=19",
        "4:24: `<umask>`: `999` is not a umask",
        "4:51: `<oomScoreAdjust>`: `-1001` is not a whole number in -1000..=1000",
        "5:44: a second `<environment inherit>`",
        "5:65: `<environment>` attribute `file`: the value is empty",
    ];
    assert_in_main_file(&problems, &expected);
}

/// Asserts that `problems` are exactly those `expected` (`LINE:COL: message` beginnings), all
/// in the main file.
fn assert_in_main_file(problems: &[String], expected: &[&str]) {
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, expected) in problems.iter().zip(expected) {
        let prefix = format!("conf/SupervisorRegistry.xml:{expected}");
        assert!(problem.starts_with(&prefix), "{problem}\nexpected {prefix}");
    }
}

const FRAGMENT_IS: &str = "<supervisor>\n  <servers>\n    <server id='is'>\n\
      <executable>bin/ImageServer</executable>\n    </server>\n  </servers>\n</supervisor>\n";

#[test]
fn included_files_add_servers_and_profiles_in_sorted_order() {
    let main = "<supervisor><include path='conf.d/*.xml'/>\
        <servers><server id='main'><profile ref='Java'/></server></servers></supervisor>";
    let svg = "<supervisor><profiles><profile id='Java'><executable>java</executable></profile>\
        </profiles><servers><server id='svg'><profile ref='Java'/></server></servers></supervisor>";
    let nested = "<supervisor><include path='more/ps.xml'/></supervisor>";
    let ps = "<supervisor><servers><group id='platform'><server id='ps'>\
        <executable>java</executable></server></group></servers></supervisor>";
    let files = [
        ("conf.d/b-svg.xml", svg),
        ("conf.d/a-is.xml", FRAGMENT_IS),
        ("conf.d/c.xml", nested),
        ("conf.d/more/ps.xml", ps),
        ("conf.d/z.xml.rpmsave", "not even XML"),
    ];
    let (dir, path) = installation(main, &files);
    let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = loaded
        .tree
        .root
        .components()
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["main", "is", "svg", "ps"]);
    let conf = dir.path().join("conf/conf.d");
    let read = ["a-is.xml", "b-svg.xml", "c.xml", "more/ps.xml"].map(|f| conf.join(f));
    assert_eq!(loaded.includes, read);
    // Relative paths in an included file follow <home> (here the registry's folder).
    let is = loaded.tree.root.components()[1].command.executable.clone();
    assert_eq!(is, dir.path().join("conf/bin/ImageServer"));
}

#[test]
fn an_included_file_may_be_bare_elements_as_spec_writes_it() {
    let main = "<supervisor><include path='conf.d/*.xml'/>\
        <servers><server id='main'><profile ref='Java'/></server></servers></supervisor>";
    let bare = "<?xml version='1.0'?>\n<!-- the SVG renderer and the platform -->\n\
        <profile id='Java'><executable>java</executable></profile>\n\
        <server id='svg'><profile ref='Java'/></server>\n\
        <group id='platform'><server id='ps'><executable>java</executable></server></group>\n\
        <include path='more/*.xml'/>\n";
    let more = "<server id='late'><executable>true</executable></server>";
    let files = [("conf.d/svg.xml", bare), ("conf.d/more/late.xml", more)];
    let (_dir, path) = installation(main, &files);
    let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = (loaded.tree.root.components().iter())
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["main", "svg", "ps", "late"]);
}

#[test]
fn errors_in_a_bare_included_file_point_into_it() {
    let main = "<supervisor>\n<include path='conf.d/*.xml'/>\n<servers/></supervisor>";
    let bad = "<server id='a'><executabel>x</executabel></server>\n  <config/>\n";
    let broken = "<server id='b'><executable>x</executable>\n</group>\n";
    // Before the first element: not moved by the element the reader wraps the file in.
    let comment = "\n  <!-- x -- y -->\n<server id='c'><executable>x</executable></server>\n";
    let files = [
        ("conf.d/a.xml", bad),
        ("conf.d/b.xml", broken),
        ("conf.d/c.xml", comment),
    ];
    let (dir, path) = installation(main, &files);
    let problems = problems_of(&dir, &path);
    let expected = [
        "conf/conf.d/a.xml:1:1: server `a` has no `<executable>`",
        "conf/conf.d/a.xml:1:16: unknown element `<executabel>` in `<server>`",
        "conf/conf.d/a.xml:2:3: unknown element `<config>` in the included file; allowed here: \
         `<server>`, `<group>`, `<profile>`, `<include>`",
        "conf/conf.d/b.xml:2:1: malformed XML: expected 'server' tag, not 'group'",
        "conf/conf.d/c.xml:2:3: malformed XML",
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, expected) in problems.iter().zip(expected) {
        assert!(
            problem.starts_with(expected),
            "{problem}\nexpected {expected}"
        );
    }
}

#[test]
fn errors_in_an_included_file_point_into_it() {
    let main = "<supervisor>\n<include path='conf.d/*.xml'/>\n<servers>\n\
        <server id='is'><executable>x</executable></server>\n</servers></supervisor>";
    let bad = "<supervisor>\n  <servers>\n    <server id='is'>\n      <executabel>x</executabel>\n\
        <config/></server>\n  </servers>\n  <config/>\n</supervisor>\n";
    let broken = "<supervisor>\n<servers>\n<server id='x'>\n</supervisor>\n";
    let files = [("conf.d/is.xml", bad), ("conf.d/zz.xml", broken)];
    let (dir, path) = installation(main, &files);
    let problems = problems_of(&dir, &path);
    let expected = [
        "conf/conf.d/is.xml:3:5: the server has no `<executable>`",
        "conf/conf.d/is.xml:3:17: duplicate id `is`: a server or group on line 4 of ",
        "conf/conf.d/is.xml:4:7: unknown element `<executabel>` in `<server>`",
        "conf/conf.d/is.xml:5:1: unknown element `<config>` in `<server>`",
        "conf/conf.d/is.xml:7:3: unknown element `<config>` in `<supervisor>`; allowed here: \
         `<profiles>`, `<servers>`, `<include>`",
        "conf/conf.d/zz.xml:4:1: malformed XML: expected 'server' tag, not 'supervisor'",
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, expected) in problems.iter().zip(expected) {
        assert!(
            problem.starts_with(expected),
            "{problem}\nexpected {expected}"
        );
    }
    assert!(
        problems[1].contains("SupervisorRegistry.xml has it already"),
        "{problems:#?}"
    );
}

#[test]
fn include_problems_are_placed_at_the_include() {
    let main = "<supervisor>\n<include path='conf.d/missing.xml'/>\n\
        <include path='*/x.xml'/>\n<include path='nowhere/*.xml'/>\n\
        <include path='SupervisorRegistry.xml'/>\n<include path='again.xml'/>\n\
        <include path='again.xml'/>\n<servers/></supervisor>";
    let again = "<supervisor/>";
    let (dir, path) = installation(main, &[("again.xml", again)]);
    let problems = problems_of(&dir, &path);
    let expected = [
        "2:16: `<include>`: conf/conf.d/missing.xml: cannot read the file: No such file",
        "3:16: `<include path>`: `*/x.xml`: wildcards (`*`, `?`) may appear in the file name only",
        "4:16: `<include path>`: cannot list the folder of `nowhere/*.xml`",
        "5:16: `<include>`: conf/SupervisorRegistry.xml is included already",
        "7:16: `<include>`: conf/again.xml is included already",
    ];
    assert_in_main_file(&problems, &expected);
}

#[test]
fn the_limits_hold_for_the_registry_and_its_included_files_together() {
    let half = MAX_BYTES as usize / 2 + 1;
    let padding = format!("<supervisor><!--{}--></supervisor>", " ".repeat(half));
    let main = format!(
        "<supervisor><include path='a.xml'/><servers/><!--{}--></supervisor>",
        " ".repeat(half)
    );
    let (dir, path) = installation(&main, &[("a.xml", &padding)]);
    let problems = problems_of(&dir, &path);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains(&format!("past {MAX_BYTES} bytes")),
        "{}",
        problems[0]
    );
    // Positive control: the same file included by a small registry loads.
    let small = "<supervisor><include path='a.xml'/><servers/></supervisor>";
    let (_dir, path) = installation(small, &[("a.xml", &padding)]);
    assert!(load(&path).is_ok());
    // Nodes: two files of 60 % of the limit each are over the limit together.
    let each = NODES_LIMIT as usize * 3 / 5;
    let many = format!("<supervisor>{}</supervisor>", "<!---->".repeat(each));
    let main = format!(
        "<supervisor><include path='a.xml'/><servers/>{}</supervisor>",
        "<!---->".repeat(each)
    );
    let (dir, path) = installation(&main, &[("a.xml", &many)]);
    let problems = problems_of(&dir, &path);
    assert!(
        problems[0].contains(&format!("more than {NODES_LIMIT} XML nodes")),
        "{problems:#?}"
    );
    assert!(problems[0].starts_with("conf/a.xml:"), "{problems:#?}");
}
