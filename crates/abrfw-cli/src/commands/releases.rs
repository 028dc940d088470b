//! `abrfw releases`: the releases abrfw knows, with the size and confidence of their catalogs.

use std::fmt::Write as _;

use abrfw_core::Release;
use abrfw_core::catalog::Confidence;
use anyhow::Result;
use serde_json::json;

use crate::args::{ReleasesArgs, ReleasesFormat};
use crate::{Outcome, site};

/// Runs the command.
pub fn run(args: &ReleasesArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, _) = site::catalog(args.catalog.as_deref())?;
    let default = catalog.default_release().id;
    let text = match args.format {
        ReleasesFormat::Json => {
            let list: Vec<serde_json::Value> = catalog
                .releases()
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "title": r.title,
                        "document": r.document,
                        "default": r.id == default,
                        "flows": r.flows.len(),
                        "low_confidence_flows": low(r),
                        "roles": r.roles,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&json!({ "version": 1, "releases": list }))? + "\n"
        }
        ReleasesFormat::Table => {
            let mut s = String::new();
            let rows: Vec<[String; 5]> = catalog
                .releases()
                .iter()
                .map(|r| {
                    [
                        if r.id == default {
                            format!("{} (default)", r.id)
                        } else {
                            r.id.to_owned()
                        },
                        r.flows.len().to_string(),
                        low(r).to_string(),
                        r.roles.len().to_string(),
                        r.title.to_owned(),
                    ]
                })
                .collect();
            let header = ["ID", "FLOWS", "LOW-CONF", "ROLES", "TITLE"];
            let mut width = header.map(str::len);
            for row in &rows {
                for (w, cell) in width.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
                let line: Vec<String> = row
                    .iter()
                    .zip(width)
                    .enumerate()
                    .map(|(i, (cell, w))| {
                        if i == row.len() - 1 {
                            cell.clone()
                        } else {
                            format!("{cell:<w$}")
                        }
                    })
                    .collect();
                let _ = writeln!(s, "{}", line.join("  "));
            }
            s.push_str(
                "\nSee docs/releases.md; `abrfw flows --release ID` prints a catalog, \
                 `abrfw flows --diff A B` compares two.\n",
            );
            s
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

fn low(r: &Release) -> usize {
    r.flows
        .iter()
        .filter(|f| f.confidence == Confidence::Low)
        .count()
}
