//! `abrfw graph`: the site's connection diagram as Graphviz DOT, Mermaid or SVG, and the
//! catalog's (`abrfw flows --format dot`).
//!
//! Both diagrams are first built as a small [`Diagram`] (boxes grouped by zone, arrows from
//! initiator to responder labelled like the vendor's "TCP 9876: Registering, managing agents"),
//! then printed by one function per format. SVG is laid out by abrfw itself ([`mod@svg`]: zone
//! frames, numbered arrows and a key, no text over a line), so no Graphviz binary is needed and
//! the output depends on nothing else: the committed `docs/example-site.svg` can be checked byte
//! for byte on any machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use abrfw_core::topology::AllowEnd;
use abrfw_core::{Link, Phase, Release, Topology, links};
use anyhow::Result;

use crate::args::{GraphArgs, GraphFormat, GraphGroup, GraphPhase};
use crate::{Outcome, site};

mod svg;

/// Runs the command.
pub fn run(args: &GraphArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, topology) = site::load_site(&args.site)?;
    let phase = args.phase.map(|p| match p {
        GraphPhase::Install => Phase::Install,
        GraphPhase::Operate => Phase::Operate,
    });
    let links = links(&catalog, &topology)?;
    let group = args.group.unwrap_or(if topology.hosts.len() > GROUP_ABOVE {
        GraphGroup::Class
    } else {
        GraphGroup::Host
    });
    let diagram = site_diagram(&topology, &links, phase, group);
    let text = match args.format {
        GraphFormat::Dot => dot(&diagram),
        GraphFormat::Mermaid => mermaid(&diagram),
        GraphFormat::Svg => svg(&diagram)?,
    };
    out.write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

/// How an arrow is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Style {
    /// A flow of normal operation: solid.
    Operate,
    /// A remote-installation flow: dashed.
    Install,
    /// A site `[[allow]]` rule: dotted.
    Site,
}

impl Style {
    fn of(phase: Option<Phase>) -> Self {
        match phase {
            Some(Phase::Operate) => Style::Operate,
            Some(Phase::Install) => Style::Install,
            None => Style::Site,
        }
    }
}

/// What a box stands for (the SVG draws each kind its own way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A host, or a class or zone of hosts.
    Host,
    /// A network or address of a `[[zone]]` or an `[[allow]]` rule.
    Network,
    /// A `[[gateway]]`.
    Gateway,
}

/// A box.
#[derive(Debug)]
struct Node {
    id: String,
    lines: Vec<String>,
    kind: Kind,
}

/// Boxes grouped (by zone), gateways between the groups, arrows between them.
#[derive(Debug)]
struct Diagram {
    title: String,
    /// Group label (`None`: no grouping) and its boxes.
    groups: Vec<(Option<String>, Vec<Node>)>,
    /// Gateways (drawn in no group), each with the groups it joins (indices into `groups`).
    gateways: Vec<(Node, Vec<usize>)>,
    /// (from, to, style) -> label lines, sorted.
    edges: BTreeMap<(String, String, Style), Vec<String>>,
}

const LEGEND: &str = "solid: operation; dashed: remote installation; dotted: site [[allow]] rules";

/// Mermaid draws site rules thick (`==>`), not dotted.
const MERMAID_LEGEND: &str =
    "solid: operation; dotted: remote installation; thick: site [[allow]] rules";

/// The group of addresses in no zone (no zone may be named so: it holds a space).
const OUTSIDE: &str = "outside the zones";

/// `TCP 9876: purpose`, the vendor diagram's label.
fn label(protocol: &str, port: &str, purpose: &str) -> String {
    format!("{} {port}: {purpose}", protocol.to_uppercase())
}

/// Above this many hosts a diagram draws classes of hosts, not hosts (`--group` overrides).
const GROUP_ABOVE: usize = 40;

/// The box each host is drawn in: its own, its class's or its zone's. Returns the box of every
/// host (by name) and the boxes by zone.
fn host_boxes(
    topology: &Topology,
    group: GraphGroup,
) -> (BTreeMap<&str, String>, BTreeMap<&str, Vec<Node>>) {
    let mut hosts: Vec<&abrfw_core::topology::Host> = topology.hosts.iter().collect();
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    let what = |h: &abrfw_core::topology::Host| {
        let roles: Vec<&str> = h.roles.iter().map(|r| r.as_str()).collect();
        format!(
            "{}: {}",
            h.os.map_or("peer", |o| o.as_str()),
            roles.join(", ")
        )
    };
    let mut of_host = BTreeMap::new();
    let mut zones: BTreeMap<&str, Vec<Node>> = BTreeMap::new();
    match group {
        GraphGroup::Host => {
            for h in hosts {
                of_host.insert(h.name.as_str(), h.name.clone());
                zones.entry(h.zone.as_str()).or_default().push(Node {
                    id: h.name.clone(),
                    lines: vec![h.name.clone(), what(h)],
                    kind: Kind::Host,
                });
            }
        }
        GraphGroup::Class | GraphGroup::Zone => {
            // (zone, class) -> member names, sorted by name.
            let mut classes: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
            for h in hosts {
                let class = match group {
                    GraphGroup::Class => what(h),
                    _ => String::new(),
                };
                classes
                    .entry((h.zone.as_str(), class))
                    .or_default()
                    .push(h.name.as_str());
            }
            for (i, ((zone, class), members)) in classes.into_iter().enumerate() {
                // A host name may not hold a space: these ids name no host.
                let id = format!("class {i}");
                for m in &members {
                    of_host.insert(*m, id.clone());
                }
                let count = match members.len() {
                    1 => members[0].to_owned(),
                    n => format!("{n} hosts"),
                };
                let mut lines = vec![count];
                if class.is_empty() {
                    lines.push(format!("zone {zone}"));
                } else {
                    lines.push(class);
                }
                if members.len() > 1 {
                    let shown: Vec<&str> = members.iter().take(3).copied().collect();
                    let more = if members.len() > 3 { ", ..." } else { "" };
                    lines.push(format!("{}{more}", shown.join(", ")));
                }
                zones.entry(zone).or_default().push(Node {
                    id,
                    lines,
                    kind: Kind::Host,
                });
            }
        }
    }
    (of_host, zones)
}

fn site_diagram(
    topology: &Topology,
    links: &[Link],
    phase: Option<Phase>,
    group: GraphGroup,
) -> Diagram {
    let (of_host, mut zones) = host_boxes(topology, group);
    let box_of = |name: &str| -> String {
        of_host
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    };
    // Networks: those of the [[zone]] tables in their zone, and the address ends of [[allow]]
    // rules (in their zone, or outside every zone), each drawn once as its own box.
    let mut networks: BTreeMap<String, (Option<&str>, &'static str)> = BTreeMap::new();
    for z in &topology.zones {
        for n in &z.networks {
            networks.insert(n.to_string(), (Some(z.name.as_str()), "zone network"));
        }
    }
    let mut net_edges: Vec<(String, String, String)> = Vec::new();
    for a in &topology.allows {
        let name = |e: AllowEnd| match e {
            AllowEnd::Host(i) => topology.hosts[i].name.clone(),
            AllowEnd::Network(n) => n.to_string(),
        };
        for e in [a.from, a.to] {
            if let AllowEnd::Network(n) = e {
                networks
                    .entry(n.to_string())
                    .or_insert((topology.zone_of_network(n), "address"));
            }
        }
        if matches!(a.from, AllowEnd::Network(_)) || matches!(a.to, AllowEnd::Network(_)) {
            net_edges.push((
                name(a.from),
                name(a.to),
                label(a.protocol.as_str(), &a.ports.to_string(), a.description()),
            ));
        }
    }
    for (net, (zone, what)) in &networks {
        zones
            .entry(zone.unwrap_or(OUTSIDE))
            .or_default()
            .push(Node {
                id: net.clone(),
                lines: vec![net.clone(), (*what).to_owned()],
                kind: Kind::Network,
            });
    }
    // Frames only where the site has zones; addresses outside them then get a frame too.
    let grouped = zones.keys().filter(|z| **z != OUTSIDE).count() > 1;
    let zone_names: Vec<&str> = zones.keys().copied().collect();
    let groups: Vec<(Option<String>, Vec<Node>)> = zones
        .into_iter()
        .map(|(z, nodes)| {
            let label = if z == OUTSIDE {
                "outside the zones".to_owned()
            } else {
                format!("zone {z}")
            };
            (grouped.then_some(label), nodes)
        })
        .collect();
    // Gateways stand between their zones, outside every zone frame.
    let gateways: Vec<(Node, Vec<usize>)> = topology
        .gateways
        .iter()
        .map(|g| {
            let zones: Vec<&str> = g.zones.iter().map(|(z, _)| z.as_str()).collect();
            let joins = zones
                .iter()
                .filter_map(|z| zone_names.iter().position(|n| n == z))
                .collect();
            let node = Node {
                id: g.name.clone(),
                lines: vec![
                    g.name.clone(),
                    format!("gateway ({}): {}", g.os.as_str(), zones.join(", ")),
                ],
                kind: Kind::Gateway,
            };
            (node, joins)
        })
        .collect();
    let mut edges: BTreeMap<(String, String, Style), Vec<String>> = BTreeMap::new();
    for l in links {
        if phase.is_some() && l.phase.is_some() && l.phase != phase {
            continue;
        }
        let line = label(l.protocol.as_str(), &l.port.to_string(), &l.purpose);
        let (from, to) = (box_of(&l.initiator), box_of(&l.responder));
        // Hosts of one class talking to each other: the box says what they are; no loop.
        if from == to && group != GraphGroup::Host {
            continue;
        }
        let lines = edges.entry((from, to, Style::of(l.phase))).or_default();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    for (from, to, line) in net_edges {
        let lines = edges
            .entry((box_of(&from), box_of(&to), Style::Site))
            .or_default();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    for lines in edges.values_mut() {
        lines.sort();
    }
    let phases: Vec<&str> = match phase {
        Some(p) => vec![p.as_str()],
        None => topology.options.phases.iter().map(|p| p.as_str()).collect(),
    };
    Diagram {
        title: format!(
            "{}: site connections, phase {}",
            topology.release.title,
            phases.join(" + ")
        ),
        groups,
        gateways,
        edges,
    }
}

/// The catalog as a diagram: one box per component, one arrow per flow group.
pub fn catalog_dot(release: &Release) -> String {
    let mut ids: Vec<&str> = Vec::new();
    let mut edges: BTreeMap<(String, String, Style), Vec<String>> = BTreeMap::new();
    for f in release.flows {
        for c in [f.initiator, f.responder] {
            if !ids.contains(&c.as_str()) {
                ids.push(c.as_str());
            }
        }
        let port = match f.port {
            abrfw_core::catalog::Port::Fixed(p) => p.to_string(),
            abrfw_core::catalog::Port::Acronis => "9876*".to_owned(),
            abrfw_core::catalog::Port::NfsMountd => "nfs_mountd_port".to_owned(),
        };
        let line = label(f.protocol.as_str(), &port, f.purpose);
        let lines = edges
            .entry((
                f.initiator.as_str().to_owned(),
                f.responder.as_str().to_owned(),
                Style::of(Some(f.phase)),
            ))
            .or_default();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    ids.sort_unstable();
    for lines in edges.values_mut() {
        lines.sort();
    }
    dot(&Diagram {
        title: format!(
            "{}: flow catalog (9876* is the Acronis port)",
            release.title
        ),
        groups: vec![(
            None,
            ids.into_iter()
                .map(|c| Node {
                    id: c.to_owned(),
                    lines: vec![c.to_owned()],
                    kind: Kind::Host,
                })
                .collect(),
        )],
        gateways: Vec::new(),
        edges,
    })
}

/// A DOT double-quoted string.
fn dot_str(lines: &[String]) -> String {
    let escaped: Vec<String> = lines
        .iter()
        .map(|l| l.replace('\\', "\\\\").replace('"', "\\\""))
        .collect();
    format!("\"{}\"", escaped.join("\\n"))
}

fn dot(d: &Diagram) -> String {
    let mut t = String::new();
    t.push_str("// Generated by abrfw; arrows go from the initiator to the responder.\n");
    t.push_str("digraph abrfw {\n");
    let _ = writeln!(
        t,
        "  label={};\n  labelloc=t;\n  rankdir=LR;\n  fontname=\"Helvetica\";",
        dot_str(&[d.title.clone(), LEGEND.to_owned()])
    );
    t.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n");
    t.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (i, (group, nodes)) in d.groups.iter().enumerate() {
        let indent = if let Some(label) = group {
            let _ = writeln!(
                t,
                "  subgraph cluster_{i} {{\n    label={};\n    style=dashed;",
                dot_str(std::slice::from_ref(label))
            );
            "    "
        } else {
            "  "
        };
        for n in nodes {
            let _ = writeln!(
                t,
                "{indent}{} [label={}];",
                dot_str(std::slice::from_ref(&n.id)),
                dot_str(&n.lines)
            );
        }
        if group.is_some() {
            t.push_str("  }\n");
        }
    }
    for (n, _) in &d.gateways {
        let _ = writeln!(
            t,
            "  {} [label={}];",
            dot_str(std::slice::from_ref(&n.id)),
            dot_str(&n.lines)
        );
    }
    for ((from, to, style), lines) in &d.edges {
        let style = match style {
            Style::Operate => "",
            Style::Install => ", style=dashed",
            Style::Site => ", style=dotted",
        };
        let _ = writeln!(
            t,
            "  {} -> {} [label={}{style}];",
            dot_str(std::slice::from_ref(from)),
            dot_str(std::slice::from_ref(to)),
            dot_str(lines)
        );
    }
    t.push_str("}\n");
    t
}

/// Text inside a Mermaid `"..."` label: quotes and markup characters as entity codes.
fn mermaid_str(lines: &[String]) -> String {
    let escaped: Vec<String> = lines
        .iter()
        .map(|l| {
            l.replace('#', "#35;")
                .replace('"', "#quot;")
                .replace('<', "#lt;")
                .replace('>', "#gt;")
        })
        .collect();
    format!("\"{}\"", escaped.join("<br/>"))
}

fn mermaid(d: &Diagram) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "%% Generated by abrfw; arrows go from the initiator to the responder.\n%% {}\n%% {MERMAID_LEGEND}",
        d.title
    );
    t.push_str("flowchart LR\n");
    // Mermaid ids are plain words: number the boxes in diagram order.
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for (g, (group, nodes)) in d.groups.iter().enumerate() {
        let indent = if let Some(label) = group {
            let _ = writeln!(
                t,
                "  subgraph z{g}[{}]",
                mermaid_str(std::slice::from_ref(label))
            );
            "    "
        } else {
            "  "
        };
        for n in nodes {
            let id = format!("n{}", ids.len());
            let _ = writeln!(t, "{indent}{id}[{}]", mermaid_str(&n.lines));
            ids.insert(&n.id, id);
        }
        if group.is_some() {
            t.push_str("  end\n");
        }
    }
    for (n, _) in &d.gateways {
        let id = format!("n{}", ids.len());
        let _ = writeln!(t, "  {id}[{}]", mermaid_str(&n.lines));
        ids.insert(&n.id, id);
    }
    for ((from, to, style), lines) in &d.edges {
        let arrow = match style {
            Style::Operate => "-->",
            Style::Install => "-.->",
            Style::Site => "==>",
        };
        let _ = writeln!(
            t,
            "  {} {arrow}|{}| {}",
            ids[from.as_str()],
            mermaid_str(lines),
            ids[to.as_str()]
        );
    }
    t
}

/// The most arrows the built-in SVG layout takes. Its time is small (quadratic in the arrows:
/// the 10,000-host benchmark site by class draws in well under a second), but every arrow end
/// takes a port of its own on its box: past a few hundred arrows the picture grows taller than
/// anyone reads, and Graphviz's DOT does better.
const SVG_MAX_ARROWS: usize = 250;

fn svg(d: &Diagram) -> Result<String> {
    if d.edges.len() > SVG_MAX_ARROWS {
        anyhow::bail!(
            "the diagram has {} arrows; the built-in SVG layout takes at most {SVG_MAX_ARROWS} \
             (every arrow takes its own ports and track, and the picture would be too tall to read)\n\
             help: draw fewer boxes (--group class or --group zone), or with Graphviz: \
             abrfw graph SITE.toml --format dot | dot -Tsvg > site.svg (or narrow it with --phase)",
            d.edges.len()
        );
    }
    Ok(svg::svg(d))
}
