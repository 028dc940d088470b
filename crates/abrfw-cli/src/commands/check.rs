//! `abrfw check`: validate a topology and say what it compiles to.

use abrfw_core::{compile, compile_gateways};
use anyhow::Result;

use crate::args::CheckArgs;
use crate::{Outcome, site};

/// Runs the command.
pub fn run(args: &CheckArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, topology) = site::load_site(&args.site)?;
    let hosts = compile(&catalog, &topology)?;
    let gateways = compile_gateways(&catalog, &topology)?;
    let choice = site::choice(&topology)?;
    let rules: usize = hosts.iter().map(|h| h.rules.len()).sum();
    writeln!(
        out,
        "ok: {} host(s), {} with rules ({} rules), release {}",
        topology.hosts.len(),
        hosts.len(),
        rules,
        topology.release.id
    )?;
    for host in &hosts {
        let backends: Vec<&str> = choice
            .host(&host.host, host.os)
            .iter()
            .map(|b| b.name)
            .collect();
        let backends = if backends.is_empty() {
            "none yet".to_owned()
        } else {
            backends.join(", ")
        };
        writeln!(
            out,
            "  {}: {} ({}), {} rule(s), backends: {}",
            host.host,
            host.os,
            host.roles_text(),
            host.rules.len(),
            backends
        )?;
    }
    for gw in &gateways {
        let zones: Vec<&str> = gw.zones.iter().map(|z| z.name.as_str()).collect();
        // Only the backends that write forward rules: `json` has no gateway mode.
        let backends: Vec<&str> = choice
            .gateway(&gw.gateway, gw.os)
            .iter()
            .map(|b| b.name)
            .collect();
        writeln!(
            out,
            "  gateway {}: {} between {}, {} forward rule(s), backends: {}",
            gw.gateway,
            gw.os,
            zones.join(", "),
            gw.rules.len(),
            if backends.is_empty() {
                "none yet".to_owned()
            } else {
                backends.join(", ")
            }
        )?;
    }
    // A role the release has no flows for is said, not silently dropped.
    for note in site::idle_notes(&topology) {
        writeln!(out, "  {note}")?;
    }
    if args.encryption {
        crate::commands::encryption::report(&catalog, &topology, out)?;
    }
    Ok(Outcome::Success)
}
