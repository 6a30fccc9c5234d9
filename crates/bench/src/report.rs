//! The benchmark report: rows of named measurements, as Markdown and JSON.

use serde::Serialize;
use serde_json::Value;

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: String,
    pub name: String,
    /// The measured values by column name (`p50 µs`, `events/s`, …).
    pub values: Vec<(String, Value)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// All measurements of one run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub machine: String,
    pub date: String,
    pub command: String,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn add(
        &mut self,
        section: &str,
        name: &str,
        values: Vec<(&str, Value)>,
        note: Option<String>,
    ) {
        let row = Row {
            section: section.into(),
            name: name.into(),
            values: values
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            note,
        };
        eprintln!(
            "  {} / {}: {}",
            row.section,
            row.name,
            row.values
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.rows.push(row);
    }

    /// One Markdown table per section.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Machine: {}. Date: {}. Command: `{}`.\n",
            self.machine, self.date, self.command
        );
        let mut sections: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !sections.contains(&row.section.as_str()) {
                sections.push(&row.section);
            }
        }
        for section in sections {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.section == section).collect();
            let mut columns: Vec<&str> = Vec::new();
            for row in &rows {
                for (k, _) in &row.values {
                    if !columns.contains(&k.as_str()) {
                        columns.push(k);
                    }
                }
            }
            out.push_str(&format!(
                "\n### {section}\n\n| what | {} | note |\n|---|{}---|\n",
                columns.join(" | "),
                "---|".repeat(columns.len())
            ));
            for row in rows {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|c| {
                        row.values
                            .iter()
                            .find(|(k, _)| k == c)
                            .map(|(_, v)| render(v))
                            .unwrap_or_default()
                    })
                    .collect();
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    row.name,
                    cells.join(" | "),
                    row.note.clone().unwrap_or_default()
                ));
            }
        }
        out
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() != 0.0 && f.abs() < 100.0 => format!("{f:.2}"),
            Some(f) if f.fract() != 0.0 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
