//! `abrfw logs`: read drop-log lines and say which firewall dropped each connection and why.
//! Reading the lines and the attribution are `abrfw_core::logs`; this module reads the files
//! and prints the summary as text or JSON.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use abrfw_core::logs::{Cause, Collector, Count, Group, Line, Reader, Summary};
use abrfw_core::query::{DropReason, HopAt, Site};
use anyhow::{Context, Result};
use serde::Serialize;

use crate::args::{ExplainFormat, LogsArgs};
use crate::{Outcome, site};

/// At most this many unparsed lines are listed per file (all are counted).
const UNPARSED_LISTED: usize = 20;

/// What was read from one file.
#[derive(Debug, Serialize)]
struct FileReport {
    /// The path as given (`-`: standard input).
    path: String,
    /// Lines read.
    lines: usize,
    /// Dropped TCP and UDP packets.
    drops: usize,
    /// Dropped packets of other protocols (ICMP, ...): no port, no flow to name.
    other_protocols: usize,
    /// Lines that are no drop (other messages, allowed packets, headers).
    other: usize,
    /// Drop lines without the fields a cause needs.
    unparsed: usize,
    /// The first of them, with the reason.
    unparsed_lines: Vec<Unparsed>,
}

#[derive(Debug, Serialize)]
struct Unparsed {
    line: usize,
    why: String,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    release: &'static str,
    files: &'a [FileReport],
    #[serde(flatten)]
    summary: &'a Summary,
}

/// Runs the command: exit 0 when every file was read (drops found or not).
pub fn run(args: &LogsArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    if args.files.is_empty() {
        anyhow::bail!(
            "no log file given\nhelp: name one or more files after the topology, or `-` to read standard input (`journalctl -k | abrfw logs site.toml -`)"
        );
    }
    let (catalog, topology) = site::load_site(&args.site)?;
    let site = Site::new(&catalog, &topology)?;
    let mut collector = Collector::new(&site);
    let mut files = Vec::new();
    for path in &args.files {
        let shown = path.display().to_string();
        let input: Box<dyn Read> = if path == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot read {shown}: check the path"))?,
            )
        };
        files.push(read(&shown, input, args.host.as_ref(), &mut collector)?);
    }
    let summary = collector.finish();
    let text = match args.format {
        ExplainFormat::Text => text(&files, &summary),
        ExplainFormat::Json => {
            let report = Report {
                release: topology.release.id,
                files: &files,
                summary: &summary,
            };
            serde_json::to_string_pretty(&report)? + "\n"
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

fn read(
    shown: &str,
    input: Box<dyn Read>,
    host: Option<&String>,
    collector: &mut Collector<'_, '_>,
) -> Result<FileReport> {
    let mut report = FileReport {
        path: shown.to_owned(),
        lines: 0,
        drops: 0,
        other_protocols: 0,
        other: 0,
        unparsed: 0,
        unparsed_lines: Vec::new(),
    };
    let mut reader = Reader::new();
    let mut input = BufReader::new(input);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read {shown}"))?;
        if n == 0 {
            break;
        }
        report.lines += 1;
        let number = report.lines;
        // Logs hold bytes the kernel or a peer put there; a stray one spoils no line.
        let line = String::from_utf8_lossy(&buf);
        match reader.line(&line) {
            Line::Drop(mut d) => {
                report.drops += 1;
                if d.logged_by.is_none() {
                    d.logged_by = host.cloned();
                }
                collector.add(d, || format!("{shown}:{number}"));
            }
            Line::OtherProtocol(_) => report.other_protocols += 1,
            Line::Other => report.other += 1,
            Line::Unparsed(why) => {
                report.unparsed += 1;
                if report.unparsed_lines.len() < UNPARSED_LISTED {
                    report.unparsed_lines.push(Unparsed { line: number, why });
                }
            }
        }
    }
    Ok(report)
}

fn counts(t: &mut String, title: &str, column: &str, rows: &[Count]) {
    let _ = writeln!(t, "\nby {title}:");
    let rows: Vec<[String; 2]> = rows
        .iter()
        .map(|c| [c.count.to_string(), c.key.clone()])
        .collect();
    for line in super::table(["drops", column], &rows).lines() {
        let _ = writeln!(t, "  {line}");
    }
}

fn end(address: std::net::IpAddr, host: Option<&String>) -> String {
    match host {
        Some(h) => format!("{h} ({address})"),
        None => format!("{address} (no host of the site)"),
    }
}

fn group(t: &mut String, n: usize, g: &Group) {
    let at = match &g.attribution.at {
        Some(HopAt::Outbound { host }) => format!("{host} outbound"),
        Some(HopAt::Inbound { host }) => format!("{host} inbound"),
        Some(at @ HopAt::Forward { .. }) => at.to_string(),
        None => "not a hop of the site".to_owned(),
    };
    let ports = if g.source_ports.first == g.source_ports.last {
        format!("source port {}", g.source_ports.first)
    } else {
        format!("source ports {}", g.source_ports)
    };
    let _ = writeln!(
        t,
        "\n{n}. {at}: {}/{} from {} to {}, {ports}",
        g.protocol.as_str(),
        g.destination_port,
        end(g.source, g.attribution.source_host.as_ref()),
        end(g.destination, g.attribution.destination_host.as_ref()),
    );
    let mut seen = format!(
        "   {} line{}, first {}",
        g.count,
        if g.count == 1 { "" } else { "s" },
        g.first
    );
    if !g.logged_by.is_empty() {
        let _ = write!(seen, "; logged by {}", g.logged_by.join(", "));
    }
    let _ = writeln!(t, "{seen}");
    for c in &g.attribution.causes {
        let _ = writeln!(t, "   - {}", cause_text(c));
    }
}

fn cause_text(c: &Cause) -> String {
    match c {
        Cause::Dropped(r @ DropReason::FlowNotApplied(_)) => format!("flow not enabled: {r}"),
        Cause::Dropped(r @ DropReason::Undocumented) => format!("undocumented: {r}"),
        Cause::Dropped(r) => r.to_string(),
        other => other.to_string(),
    }
}

/// The summary as text: what was read, the counts, then one block per connection.
fn text(files: &[FileReport], s: &Summary) -> String {
    let mut t = String::new();
    for f in files {
        let _ = writeln!(
            t,
            "read {}: {} lines, {} drops, {} of other protocols, {} other, {} unparsed",
            f.path, f.lines, f.drops, f.other_protocols, f.other, f.unparsed
        );
        for u in &f.unparsed_lines {
            let _ = writeln!(t, "  unparsed {}:{}: {}", f.path, u.line, u.why);
        }
        if f.unparsed > f.unparsed_lines.len() {
            let _ = writeln!(
                t,
                "  ... and {} more unparsed lines",
                f.unparsed - f.unparsed_lines.len()
            );
        }
    }
    if s.groups.is_empty() {
        let _ = writeln!(t, "\nno dropped TCP or UDP packet found");
        return t;
    }
    let _ = writeln!(t, "\n{} drops of {} connections", s.drops, s.groups.len());
    counts(&mut t, "cause", "cause", &s.by_cause);
    counts(&mut t, "host", "dropped at", &s.by_host);
    counts(&mut t, "port", "port", &s.by_port);
    let _ = writeln!(t, "\nconnections:");
    for (i, g) in s.groups.iter().enumerate() {
        group(&mut t, i + 1, g);
    }
    t
}
