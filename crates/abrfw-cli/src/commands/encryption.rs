//! `abrfw check --encryption`: the flows that cross zones without encryption, from the catalog's
//! encryption notes (25001's parameters channel, HTTP 80, NFS, SMB depending on settings).

use std::collections::BTreeMap;

use abrfw_core::{Catalog, Encryption, PortRange, Protocol, Topology, links};
use anyhow::Result;

/// Writes the audit after `check`'s summary.
pub fn report(catalog: &Catalog, topology: &Topology, out: &mut dyn std::io::Write) -> Result<()> {
    // (class, flow, from zone, to zone) -> protocol, ports, initiators, responders, purpose, note.
    type Key<'a> = (Encryption, &'a str, &'a str, &'a str);
    struct Row<'a> {
        protocol: Protocol,
        ports: Vec<PortRange>,
        from: Vec<&'a str>,
        to: Vec<&'a str>,
        purpose: &'a str,
        note: &'a str,
    }
    let links = links(catalog, topology)?;
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    for l in links.iter().filter(|l| l.crosses_zones()) {
        let Some(class) = l.encryption.filter(|c| *c != Encryption::Encrypted) else {
            continue;
        };
        let row = rows
            .entry((
                class,
                l.flow.as_str(),
                l.initiator_zone.as_str(),
                l.responder_zone.as_str(),
            ))
            .or_insert_with(|| Row {
                protocol: l.protocol,
                ports: Vec::new(),
                from: Vec::new(),
                to: Vec::new(),
                purpose: &l.purpose,
                note: &l.encryption_note,
            });
        for (list, item) in [(&mut row.from, &l.initiator), (&mut row.to, &l.responder)] {
            if !list.contains(&item.as_str()) {
                list.push(item);
            }
        }
        if !row.ports.contains(&l.port) {
            row.ports.push(l.port);
        }
    }
    let zones: std::collections::BTreeSet<&str> =
        topology.hosts.iter().map(|h| h.zone.as_str()).collect();
    if zones.len() < 2 {
        writeln!(
            out,
            "encryption: every host is in zone {}; no flow crosses zones",
            zones.first().copied().unwrap_or("default")
        )?;
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(
            out,
            "encryption: every flow that crosses zones is encrypted"
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "encryption: {} flow(s) cross zones without encryption:",
        rows.len()
    )?;
    for ((class, flow, from_zone, to_zone), mut row) in rows {
        row.from.sort_unstable();
        row.to.sort_unstable();
        row.ports.sort_unstable();
        let ports: Vec<String> = row.ports.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "  {class}: {flow} {}/{} {from_zone} -> {to_zone} ({} -> {})\n    {}; {}",
            row.protocol.as_str(),
            ports.join(","),
            names(&row.from),
            names(&row.to),
            row.purpose,
            row.note
        )?;
    }
    Ok(())
}

/// At most five host names, then how many more: a site of 2,000 agents stays readable.
fn names(list: &[&str]) -> String {
    const SHOWN: usize = 5;
    if list.len() <= SHOWN {
        list.join(", ")
    } else {
        format!(
            "{} and {} more",
            list[..SHOWN].join(", "),
            list.len() - SHOWN
        )
    }
}
