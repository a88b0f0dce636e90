//! The report: one markdown table of rows (scenario, N, result, target, met) and notes.

use std::fmt::Write as _;

/// One line of the table.
pub struct Row {
    pub scenario: String,
    pub n: String,
    pub result: String,
    pub target: String,
    pub met: String,
}

/// What the run found, in the order it was found.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    /// Adds a row (and says it on stderr as it comes).
    pub fn row(
        &mut self,
        scenario: &str,
        n: impl ToString,
        result: String,
        target: &str,
        met: Option<bool>,
    ) {
        let n = n.to_string();
        eprintln!("scenarios: {scenario} N={n}: {result}");
        self.rows.push(Row {
            scenario: scenario.to_string(),
            n,
            result,
            target: target.to_string(),
            met: met.map_or(String::new(), |ok| {
                if ok { "yes" } else { "**no**" }.to_string()
            }),
        });
    }

    /// Adds a note under the table.
    pub fn note(&mut self, note: String) {
        eprintln!("scenarios: note: {note}");
        self.notes.push(note);
    }

    /// The table and the notes, in markdown.
    pub fn markdown(&self) -> String {
        let mut out =
            String::from("| scenario | N | result | target | met |\n|---|---:|---|---|---|\n");
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.scenario,
                row.n,
                row.result.replace('|', "\\|"),
                row.target,
                row.met
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}
