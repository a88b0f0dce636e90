//! The shell completions and the man page, generated from the clap definition of the command
//! line, so they cannot drift from `--help`. The checked-in copies under `doc/` are compared
//! with these by a test.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::{Cli, Shell};

/// Writes the completion script for `shell`.
pub fn completions(shell: Shell, out: &mut impl Write) {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    match shell {
        Shell::Bash => clap_complete::generate(clap_complete::Shell::Bash, &mut command, name, out),
        Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut command, name, out),
        Shell::Fish => clap_complete::generate(clap_complete::Shell::Fish, &mut command, name, out),
    }
}

/// Writes the man page (roff), with a section per verb. It names the package version only,
/// so the checked-in page does not change with every commit.
pub fn manpage(out: &mut impl Write) -> io::Result<()> {
    let command = Cli::command().version(env!("CARGO_PKG_VERSION"));
    let page = clap_mangen::Man::new(command.clone());
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    for verb in command.get_subcommands().filter(|verb| !verb.is_hide_set()) {
        writeln!(out, ".TP\n\\fB{}\\fR", verb.get_name())?;
        let about = verb.get_long_about().or(verb.get_about());
        writeln!(out, "{}", about.map(|a| a.to_string()).unwrap_or_default())?;
    }
    page.render_version_section(out)
}

/// The visible verbs, as `--help` lists them.
pub fn verbs() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|verb| !verb.is_hide_set())
        .map(|verb| verb.get_name().to_string())
        .collect()
}
