//! `abrfw services`: the built-in site services `[[allow]] service = ...` can name.

use abrfw_core::SERVICES;
use anyhow::Result;
use serde_json::json;

use crate::Outcome;
use crate::args::{ServicesArgs, ServicesFormat};

/// Runs the command.
pub fn run(args: &ServicesArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let text = match args.format {
        ServicesFormat::Json => {
            let list: Vec<serde_json::Value> = SERVICES
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "description": s.description,
                        "ports": s.ports,
                        "source": s.source,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&json!({ "version": 1, "services": list }))? + "\n"
        }
        ServicesFormat::Table => {
            let rows: Vec<[String; 3]> = SERVICES
                .iter()
                .map(|s| [s.name.to_owned(), s.ports_text(), s.description.to_owned()])
                .collect();
            let mut text = super::table(["NAME", "PORTS", "DESCRIPTION"], &rows);
            text.push_str(
                "\nUse one in an [[allow]] as service = \"dns\" (or a list) instead of port and protocol; \
                 `--format json` gives each service's source. See docs/topology.md.\n",
            );
            text
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}
