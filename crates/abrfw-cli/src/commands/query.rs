//! `abrfw query`: follow one connection through every firewall on its way. The verdicts come
//! from `abrfw_core::query`; this module only prints them as text or JSON.

use std::fmt::Write as _;

use abrfw_core::query::{Answer, End, Query, Site, Verdict, family_name};
use abrfw_core::{Family, Protocol};
use anyhow::Result;

use crate::args::{ExplainFormat, QueryArgs, QueryProtocol};
use crate::{Outcome, site};

/// Runs the command: exit 0 when allowed end to end, 1 when a hop drops it.
pub fn run(args: &QueryArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, topology) = site::load_site(&args.site)?;
    let query = Query {
        from: args.from.clone(),
        to: args.to.clone(),
        port: args.port,
        protocol: match args.protocol {
            QueryProtocol::Tcp => Protocol::Tcp,
            QueryProtocol::Udp => Protocol::Udp,
        },
        source_port: args.sport,
        family: args
            .family
            .as_deref()
            .map(|f| if f == "6" { Family::V6 } else { Family::V4 }),
    };
    let answer = Site::new(&catalog, &topology)?.query(&query)?;
    let text = match args.format {
        ExplainFormat::Text => text(&answer),
        ExplainFormat::Json => serde_json::to_string_pretty(&answer)? + "\n",
    };
    out.write_all(text.as_bytes())?;
    Ok(if answer.allowed {
        Outcome::Success
    } else {
        Outcome::Blocked
    })
}

fn end(e: &End) -> String {
    match (&e.host, &e.zone) {
        (Some(h), Some(z)) => format!("{h} ({}, zone {z})", e.address),
        (None, Some(z)) => format!("{} (no host of the site, in zone {z})", e.address),
        _ => format!("{} (outside the site)", e.address),
    }
}

/// The answer as text: one numbered block per hop, then the verdict.
pub fn text(a: &Answer) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "from:    {}", end(&a.from));
    let _ = writeln!(t, "to:      {}", end(&a.to));
    let _ = writeln!(
        t,
        "traffic: {}/{}, {}, {}; release {}",
        a.protocol.as_str(),
        a.port,
        family_name(a.family),
        a.source_ports,
        a.release
    );
    if let Some(note) = &a.note {
        let _ = writeln!(t, "note:    {note}");
    }
    for (i, hop) in a.hops.iter().enumerate() {
        let n = i + 1;
        match &hop.verdict {
            Verdict::Allow(d) => {
                let _ = writeln!(t, "\n{n}. {}: allow [{}]", hop.at, d.flow);
                let _ = writeln!(t, "   purpose: {}", d.purpose);
                if let Some(s) = d.source {
                    let _ = writeln!(t, "   source:  {s}");
                }
                if let Some(p) = d.source_ports {
                    let _ = writeln!(t, "   from source ports {p}");
                }
                if !d.also.is_empty() {
                    let _ = writeln!(t, "   also allowed by: {}", d.also.join(", "));
                }
            }
            Verdict::Drop { reasons } => {
                let _ = writeln!(t, "\n{n}. {}: drop (default policy)", hop.at);
                for r in reasons {
                    let _ = writeln!(t, "   - {r}");
                }
            }
            Verdict::NotAllowedByFragment { reasons } => {
                let _ = writeln!(
                    t,
                    "\n{n}. {}: no abrfw rule (fragment policy: the site's own firewall decides)",
                    hop.at
                );
                for r in reasons {
                    let _ = writeln!(t, "   - {r}");
                }
            }
            Verdict::NotFiltered { why } => {
                let _ = writeln!(t, "\n{n}. {}: not filtered ({why})", hop.at);
            }
            Verdict::OutboundAccepted => {
                let _ = writeln!(
                    t,
                    "\n{n}. {}: accept (outbound = \"accept\": the host does not filter its outbound connections)",
                    hop.at
                );
            }
        }
    }
    let blocked: Vec<String> = a
        .hops
        .iter()
        .filter(|h| !h.verdict.passes())
        .map(|h| h.at.to_string())
        .collect();
    if blocked.is_empty() {
        let _ = writeln!(t, "\nverdict: allowed end to end");
    } else {
        let _ = writeln!(t, "\nverdict: blocked at {}", blocked.join(", "));
    }
    t
}
