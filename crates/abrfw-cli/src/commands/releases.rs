//! `abrfw releases`: the releases abrfw knows, with the size and confidence of their catalogs.

use std::fmt::Write as _;

use abrfw_core::catalog::{Confidence, Port};
use abrfw_core::{Flow, Release, Role};
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
        ReleasesFormat::Markdown => markdown(catalog.releases()),
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
            s.push_str(&super::table(header, &rows));
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

/// A flow's port as a table cell: `tcp/9876*` for the configurable Acronis port, the
/// confidence appended when it is not high.
fn cell(f: &Flow) -> String {
    let port = match f.port {
        Port::Fixed(p) => format!("{}/{p}", f.protocol.as_str()),
        Port::Acronis => format!("{}/9876*", f.protocol.as_str()),
        Port::NfsMountd => format!("{}/nfs_mountd_port", f.protocol.as_str()),
    };
    match f.confidence {
        Confidence::High => port,
        Confidence::Medium => format!("{port} (M)"),
        Confidence::Low => format!("{port} **(L)**"),
    }
}

/// The releases side by side: one row per flow id (first appearance order), one column per
/// release; then the roles.
fn markdown(releases: &[&'static Release]) -> String {
    let mut s = String::new();
    let mut ids: Vec<&str> = Vec::new();
    for r in releases {
        for f in r.flows {
            if !ids.contains(&f.id) {
                ids.push(f.id);
            }
        }
    }
    let names: Vec<String> = releases.iter().map(|r| format!("`{}`", r.id)).collect();
    let _ = writeln!(
        s,
        "| flow | initiator -> responder | {} | purpose (newest release that has the flow) |",
        names.join(" | ")
    );
    let _ = writeln!(s, "|{}", " --- |".repeat(releases.len() + 3));
    for id in ids {
        let flows: Vec<Option<&Flow>> = releases.iter().map(|r| r.flow(id)).collect();
        let Some(newest) = flows.iter().rev().flatten().next() else {
            continue;
        };
        let cells: Vec<String> = flows
            .iter()
            .map(|f| f.map_or_else(|| "-".to_owned(), cell))
            .collect();
        let _ = writeln!(
            s,
            "| `{id}` | {} -> {} | {} | {} |",
            newest.initiator,
            newest.responder,
            cells.join(" | "),
            newest.purpose
        );
    }
    let _ = writeln!(s, "\n| role | {} |", names.join(" | "));
    let _ = writeln!(s, "|{}", " --- |".repeat(releases.len() + 1));
    for role in Role::ALL {
        let cells: Vec<&str> = releases
            .iter()
            .map(|r| if r.has_role(role) { "yes" } else { "no flows" })
            .collect();
        let _ = writeln!(s, "| `{role}` | {} |", cells.join(" | "));
    }
    s
}
