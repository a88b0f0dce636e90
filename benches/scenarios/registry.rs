//! Generated registries.

use std::fmt::Write as _;

use testkit::xml_escape;

/// `n` components `c00000`… running `executable` with `arguments`, in the root group under
/// `strategy`; `settings` (raw XML, e.g. `<backoff>`) go into their shared profile.
pub fn registry(
    n: usize,
    strategy: &str,
    executable: &str,
    arguments: &[&str],
    settings: &str,
) -> String {
    format!(
        "<supervisor>\n{strategy}\n<servers>\n{}</servers>\n</supervisor>\n",
        servers("c", n, executable, arguments, settings)
    )
}

/// `n` `<server>` elements `{prefix}00000`… running `executable` with `arguments` and
/// `settings`, written plainly (no profile), one a line.
pub fn servers(
    prefix: &str,
    n: usize,
    executable: &str,
    arguments: &[&str],
    settings: &str,
) -> String {
    let arguments: String = arguments
        .iter()
        .map(|a| format!("<argument>{}</argument>", xml_escape(a)))
        .collect();
    let executable = xml_escape(executable);
    let mut text = String::new();
    for i in 0..n {
        let _ = writeln!(
            text,
            "<server id=\"{prefix}{i:05}\"><executable>{executable}</executable>\
             <arguments>{arguments}</arguments>{settings}</server>"
        );
    }
    text
}
