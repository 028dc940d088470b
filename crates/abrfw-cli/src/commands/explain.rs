//! `abrfw explain`: a host's rules with the flow, roles, phase and options behind each, and for a
//! port or peer without a rule, why not. The reasons come from `abrfw_core::explain`; this module
//! only renders them as text or JSON.

use std::fmt::Write as _;

use abrfw_core::explain::{ExplainError, ForwardOrigin, Origin, Query, is_gateway};
use abrfw_core::ir::address_text;
use abrfw_core::{
    Direction, Explanation, Family, GatewayExplanation, Rule, explain, explain_gateway,
};
use anyhow::Result;

use crate::args::{ExplainArgs, ExplainFormat};
use crate::{Outcome, site};

/// Runs the command.
pub fn run(args: &ExplainArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, topology) = site::load_site(&args.site)?;
    let query = Query {
        host: args.host.clone(),
        port: args.port,
        peer: args.peer.clone(),
    };
    if is_gateway(&topology, &args.host) {
        let explanation = match explain_gateway(&catalog, &topology, &query) {
            Ok(e) => e,
            Err(e @ ExplainError::UnknownPeer(_)) => {
                let names: Vec<&str> = topology.hosts.iter().map(|h| h.name.as_str()).collect();
                anyhow::bail!("{e}; hosts: {}", names.join(", "))
            }
            Err(e) => return Err(e.into()),
        };
        let text = match args.format {
            ExplainFormat::Text => gateway_text(&explanation),
            ExplainFormat::Json => serde_json::to_string_pretty(&explanation)? + "\n",
        };
        out.write_all(text.as_bytes())?;
        return Ok(Outcome::Success);
    }
    let explanation = match explain(&catalog, &topology, &query) {
        Ok(e) => e,
        Err(e @ (ExplainError::UnknownHost(_) | ExplainError::UnknownPeer(_))) => {
            let names: Vec<&str> = topology
                .hosts
                .iter()
                .map(|h| h.name.as_str())
                .chain(topology.gateways.iter().map(|g| g.name.as_str()))
                .collect();
            anyhow::bail!("{e}; hosts and gateways: {}", names.join(", "))
        }
        Err(e) => return Err(e.into()),
    };
    let text = match args.format {
        ExplainFormat::Text => text(&explanation),
        ExplainFormat::Json => serde_json::to_string_pretty(&explanation)? + "\n",
    };
    out.write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

/// `peers ams, storage1` or the addresses when the peer is an `[[allow]]` network.
fn peers(rule: &Rule) -> String {
    if rule.peer_hosts.is_empty() {
        let nets: Vec<String> = Family::ALL
            .into_iter()
            .flat_map(|f| rule.peers.of(f))
            .map(address_text)
            .collect();
        nets.join(", ")
    } else {
        rule.peer_hosts.join(", ")
    }
}

/// `a, b [10.0.0.1/32, ...]`: a forward rule's hosts on one side and their addresses.
fn side(names: &[String], peers: &abrfw_core::Peers) -> String {
    let nets: Vec<String> = Family::ALL
        .into_iter()
        .flat_map(|f| peers.of(f))
        .map(address_text)
        .collect();
    if names.is_empty() {
        nets.join(", ")
    } else {
        format!("{} [{}]", names.join(", "), nets.join(", "))
    }
}

fn gateway_text(e: &GatewayExplanation) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "gateway {} ({}), zones: {}; release {}",
        e.gateway,
        e.os,
        e.zones.join(", "),
        e.release
    );
    let mut question = Vec::new();
    if let Some(p) = e.port {
        question.push(format!("port {p}"));
    }
    if let Some(p) = &e.peer {
        question.push(format!("peer {p}"));
    }
    if !question.is_empty() {
        let _ = writeln!(t, "question: {}", question.join(", "));
    }
    let _ = writeln!(t, "\n{} forward rule(s):", e.rules.len());
    for reason in &e.rules {
        let r = &reason.rule;
        let sport = r.source_ports.map_or("any source port".to_owned(), |p| {
            format!("source ports {p}")
        });
        let _ = writeln!(
            t,
            "\nforward {}/{} {} -> {} [{}]",
            r.protocol.as_str(),
            r.destination_port,
            r.from_zone.name,
            r.to_zone.name,
            r.flow
        );
        let _ = writeln!(t, "  purpose:    {}", r.purpose);
        let _ = writeln!(t, "  from:       {}", side(&r.source_hosts, &r.sources));
        let _ = writeln!(
            t,
            "  to:         {}",
            side(&r.destination_hosts, &r.destinations)
        );
        let _ = writeln!(t, "  ports:      {sport} -> {}", r.destination_port);
        match &reason.origin {
            ForwardOrigin::Catalog {
                group,
                phase,
                initiator,
                responder,
                encryption,
                source,
                conditions,
            } => {
                let _ = writeln!(
                    t,
                    "  flow:       {initiator} -> {responder} ({group}, phase {phase})"
                );
                let _ = writeln!(t, "  encryption: {encryption}");
                let _ = writeln!(t, "  source:     {source}");
                let _ = writeln!(
                    t,
                    "  because:    the {initiator} hosts are in zone {} and the {responder} hosts in zone {}, which this gateway joins",
                    r.from_zone.name, r.to_zone.name
                );
                for fact in conditions {
                    let _ = writeln!(t, "              {fact}");
                }
            }
            ForwardOrigin::Allow {
                name,
                service,
                from_selected_by,
                to_selected_by,
            } => {
                let service = service.map_or_else(String::new, |s| format!(" (service {s:?})"));
                let _ = writeln!(
                    t,
                    "  because:    [[allow]] {name} in the topology{service} joins zones {} and {}",
                    r.from_zone.name, r.to_zone.name
                );
                if !from_selected_by.is_empty() {
                    let _ = writeln!(
                        t,
                        "              `from` {} selects the sources, `to` {} the destinations",
                        quoted(from_selected_by),
                        quoted(to_selected_by)
                    );
                }
            }
        }
    }
    if e.port.is_some() || e.peer.is_some() {
        if e.not_forwarded.is_empty() {
            let _ = writeln!(
                t,
                "\nno other catalog flow or [[allow]] matches the question"
            );
        } else {
            let _ = writeln!(
                t,
                "\n{} connection(s) this gateway does not forward:",
                e.not_forwarded.len()
            );
        }
        for n in &e.not_forwarded {
            let _ = writeln!(
                t,
                "\n{} {}/{}: {}",
                n.flow,
                n.protocol.as_str(),
                n.port,
                n.purpose
            );
            for why in &n.why {
                let _ = writeln!(t, "  - {why}");
            }
        }
    }
    t
}

fn text(e: &Explanation) -> String {
    let mut t = String::new();
    let roles: Vec<&str> = e.roles.iter().map(|r| r.as_str()).collect();
    let os = e.os.map_or("no os: a peer", |o| o.as_str());
    let _ = writeln!(
        t,
        "host {} ({os}, zone {}), roles: {}; release {}",
        e.host,
        e.zone,
        roles.join(", "),
        e.release
    );
    for role in &e.idle_roles {
        let _ = writeln!(t, "note: role {role} has no flows in release {}", e.release);
    }
    let mut question = Vec::new();
    if let Some(p) = e.port {
        question.push(format!("port {p}"));
    }
    if let Some(p) = &e.peer {
        question.push(format!("peer {p}"));
    }
    if !question.is_empty() {
        let _ = writeln!(t, "question: {}", question.join(", "));
    }
    let _ = writeln!(t, "\n{} rule(s):", e.rules.len());
    for reason in &e.rules {
        let r = &reason.rule;
        let (way, from_to) = match r.direction {
            Direction::Inbound => ("inbound", "from"),
            Direction::Outbound => ("outbound", "to"),
        };
        let sport = r.source_ports.map_or("any source port".to_owned(), |p| {
            format!("source ports {p}")
        });
        let _ = writeln!(
            t,
            "\n{way} {}/{} {from_to} {} [{}]",
            r.protocol.as_str(),
            r.destination_port,
            peers(r),
            r.flow
        );
        let _ = writeln!(t, "  purpose:    {}", r.purpose);
        let _ = writeln!(t, "  ports:      {sport} -> {}", r.destination_port);
        match &reason.origin {
            Origin::Catalog(o) => {
                let by: Vec<&str> = o.by_roles.iter().map(|r| r.as_str()).collect();
                let _ = writeln!(
                    t,
                    "  flow:       {} -> {} ({}, phase {})",
                    o.initiator, o.responder, o.group, o.phase
                );
                let _ = writeln!(t, "  encryption: {}", o.encryption);
                let _ = writeln!(t, "  source:     {}", o.source);
                let _ = writeln!(
                    t,
                    "  because:    this host plays {} (role {}); the peers play {}",
                    o.plays,
                    by.join(", "),
                    o.peers_play
                );
                for fact in &o.conditions {
                    let _ = writeln!(t, "              {fact}");
                }
            }
            Origin::Allow {
                name,
                service,
                selected_by,
                peers_selected_by,
            } => {
                let service = service.map_or_else(String::new, |s| format!(", service {s:?}"));
                let _ = writeln!(t, "  because:    [[allow]] {name} in the topology{service}");
                let (mine, theirs) = match r.direction {
                    Direction::Inbound => ("to", "from"),
                    Direction::Outbound => ("from", "to"),
                };
                if !selected_by.is_empty() {
                    let _ = writeln!(
                        t,
                        "              `{mine}` {} selects this host, `{theirs}` {} selects the peers",
                        quoted(selected_by),
                        quoted(peers_selected_by)
                    );
                }
            }
        }
    }
    if e.port.is_some() || e.peer.is_some() {
        if e.not_applied.is_empty() {
            let _ = writeln!(t, "\nno other catalog flow matches the question");
        } else {
            let _ = writeln!(
                t,
                "\n{} catalog flow(s) give no rule here:",
                e.not_applied.len()
            );
        }
        for n in &e.not_applied {
            let star = if n.acronis_port { "*" } else { "" };
            let _ = writeln!(
                t,
                "\n{} {}/{}{star} {} -> {} (phase {}): {}",
                n.flow,
                n.protocol.as_str(),
                n.port,
                n.initiator,
                n.responder,
                n.phase,
                n.purpose
            );
            for why in &n.why {
                let _ = writeln!(t, "  - {why}");
            }
        }
        if e.not_applied.iter().any(|n| n.acronis_port) {
            let _ = writeln!(
                t,
                "\n* the Acronis port: the responder's acronis_port ([options] or per host)"
            );
        }
        if let Some(peer) = &e.peer
            && e.rules.is_empty()
            && e.not_applied.is_empty()
        {
            let names = |c: &[abrfw_core::Component]| -> String {
                let v: Vec<&str> = c.iter().map(|c| c.as_str()).collect();
                if v.is_empty() {
                    "nothing".to_owned()
                } else {
                    v.join(", ")
                }
            };
            let _ = writeln!(
                t,
                "no catalog flow connects them: {} plays {}; {peer} plays {}",
                e.host,
                names(&e.plays),
                names(&e.peer_plays)
            );
        }
    }
    t
}

/// `"a", "b"`: selector items as the topology writes them.
fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
