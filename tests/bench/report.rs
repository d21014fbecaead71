//! The benchmark's one table: rows gathered as the measurements run, printed in the
//! order of the sections below (the order), and written with every raw
//! figure to `target/bench/results.json`.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Map, Value, json};

/// The table's sections, in print order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    FirstScreen,
    Scrolling,
    Weight,
    Opening,
    Memory,
    UnderLoad,
    Push,
    BigAttachment,
    Folders,
    Sending,
    Forwarding,
    Search,
    Pop3,
    Startup,
    Resume,
    Faults,
    Hostile,
    Soak,
}

impl Section {
    fn title(self) -> &'static str {
        match self {
            Section::FirstScreen => "1. First screen (100,000-message folder, 50 headers)",
            Section::Scrolling => "2. Scrolling",
            Section::Weight => "3. Weight of a cold load of the app",
            Section::Opening => "4. Opening mail (a note with a 10 MB attachment)",
            Section::Memory => "5. Memory per idle signed-in session (IMAP, IDLE running)",
            Section::UnderLoad => "6. Under load (1,000 sessions signed in)",
            Section::Push => "7. Push (another client's APPEND, 100 trials)",
            Section::BigAttachment => "8. Big attachment (50 MB)",
            Section::Folders => "9. The folder list (47 folders, with counts)",
            Section::Sending => "10. Sending (a short message, no undo window)",
            Section::Forwarding => "11. Forwarding a 10 MB file the IMAP server holds",
            Section::Search => "12. Search and conversations (a 100,000-message folder, first 50)",
            Section::Resume => "14. Resuming (INBOX's first 50 shown again) and several bridges",
            Section::Faults => "15. Faults between the bridge and Dovecot (1,000, seeded)",
            Section::Hostile => "16. Five hostile servers at once, beside 100 sessions on Dovecot",
            Section::Soak => "17. Soak (1,000 sessions with IDLE, 50 busy, mail arriving)",
            Section::Startup => {
                "13. Startup in Chromium (sign-in form; first rows of a 100,000-message inbox)"
            }
            Section::Pop3 => "POP3 (the 50 MB message)",
        }
    }
}

struct Row {
    section: Section,
    what: String,
    figure: String,
    spread: String,
}

/// Median and spread of timed runs, in milliseconds.
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub p99: f64,
}

pub fn stats(times: &[Duration]) -> Stats {
    let mut ms = millis(times);
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p10: at(0.1),
        p90: at(0.9),
        p99: at(0.99),
    }
}

fn millis(times: &[Duration]) -> Vec<f64> {
    times.iter().map(|d| d.as_secs_f64() * 1000.0).collect()
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    raw: Map<String, Value>,
}

impl Report {
    fn row(&mut self, section: Section, what: &str, figure: String, spread: String) {
        self.rows.push(Row {
            section,
            what: what.to_owned(),
            figure,
            spread,
        });
    }

    /// Keeps a raw figure for the JSON file without a row of its own.
    pub fn raw(&mut self, key: &str, value: Value) {
        self.raw.insert(key.to_owned(), value);
    }

    /// Timed runs: the median, with p10–p90 (and p99 with `p99`).
    pub fn times(
        &mut self,
        section: Section,
        what: &str,
        key: &str,
        times: &[Duration],
        p99: bool,
    ) -> Stats {
        let s = stats(times);
        let mut spread = format!("{}–{} ms", ms(s.p10), ms(s.p90));
        if p99 {
            spread += &format!(", p99 {} ms", ms(s.p99));
        }
        self.row(section, what, format!("{} ms", ms(s.median)), spread);
        self.raw(key, json!(millis(times)));
        s
    }

    /// `a / b` of two medians.
    pub fn ratio(&mut self, section: Section, what: &str, a: &Stats, b: &Stats) {
        self.row(
            section,
            what,
            format!("{:.2}×", a.median / b.median),
            String::new(),
        );
    }

    pub fn bytes(&mut self, section: Section, what: &str, key: &str, bytes: u64, note: &str) {
        self.row(section, what, size(bytes), note.to_owned());
        self.raw(key, json!(bytes));
    }

    pub fn kib(&mut self, section: Section, what: &str, key: &str, kib: u64, note: String) {
        self.row(
            section,
            what,
            format!("{:.1} MiB", kib as f64 / 1024.0),
            note,
        );
        self.raw(key, json!(kib));
    }

    pub fn seconds(&mut self, section: Section, what: &str, key: &str, took: Duration, note: &str) {
        self.row(
            section,
            what,
            format!("{:.2} s", took.as_secs_f64()),
            note.to_owned(),
        );
        self.raw(key, json!(took.as_secs_f64()));
    }

    /// A row with a figure already written out.
    pub fn text(&mut self, section: Section, what: &str, figure: String, note: String) {
        self.row(section, what, figure, note);
    }

    /// Prints the table and writes it, with the raw figures, to `out/results.json`.
    pub fn finish(mut self, out: &Path) -> Result<()> {
        self.rows.sort_by_key(|r| r.section);
        let width = self
            .rows
            .iter()
            .map(|r| r.what.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        let mut section = None;
        println!();
        for row in &self.rows {
            if section != Some(row.section) {
                println!("{}", row.section.title());
                section = Some(row.section);
            }
            println!(
                "  {:<width$}{:>12}  {}",
                row.what,
                row.figure,
                row.spread,
                width = width
            );
        }
        println!();
        let table: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "section": r.section.title(),
                    "what": r.what,
                    "figure": r.figure,
                    "spread": r.spread,
                })
            })
            .collect();
        std::fs::create_dir_all(out)?;
        let file = out.join("results.json");
        std::fs::write(
            &file,
            serde_json::to_string_pretty(&json!({ "table": table, "raw": self.raw }))?,
        )?;
        eprintln!("table and raw figures: {}", file.display());
        Ok(())
    }
}

/// Milliseconds to three significant figures or so.
fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 10_000 {
        format!("{:.1} KB", bytes as f64 / 1000.0)
    } else {
        format!("{bytes} B")
    }
}
