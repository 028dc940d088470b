//! `abrfw diff` and `abrfw flows --diff`: what changes between two releases or two sites.
//!
//! The differences themselves come from `abrfw_core::diff` (catalog data and IR, no syntax);
//! this module prints them as text (coloured on a terminal), JSON, Markdown (catalog only) or a
//! unified diff of the files one backend renders. Exit status 0 when equal, 1 when different.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use abrfw_core::diff::{
    CatalogDiff, GatewayDiff, HostDiff, HostStatus, Side, SiteDiff, diff_releases, diff_sites,
};
use abrfw_core::{ForwardRule, GatewayRules, HostRules, Release, Rule, compile, compile_gateways};
use anstyle::{AnsiColor, Style};
use anyhow::{Result, bail};

use crate::args::{Backend, ColorWhen, DiffArgs, DiffFormat, FlowsFormat};
use crate::{Outcome, site};

/// Runs `abrfw diff`.
pub fn run(args: &DiffArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, _) = site::catalog(args.catalog.as_deref())?;
    // The built-in example (both sides), or the site, or the old and the new version of it.
    let load = |path: Option<&std::path::PathBuf>| match path {
        Some(path) => Ok((path.display().to_string(), site::load_path(path, &catalog)?)),
        None => site::load_example(&catalog).map(|t| ("<example>".to_owned(), t)),
    };
    let (old_name, mut old) = load(args.sites.first())?;
    let (new_name, mut new) = load(args.sites.get(1).or(args.sites.first()))?;
    if let Some(id) = &args.from {
        old.release = site::release(&catalog, id)?;
    }
    if let Some(id) = &args.to {
        new.release = site::release(&catalog, id)?;
    }
    if args.format == DiffFormat::Unified && args.backend.is_none() {
        bail!("--format unified compares the files of one backend: give --backend");
    }
    let old_hosts = compile(&catalog, &old)?;
    let new_hosts = compile(&catalog, &new)?;
    let old_gateways = compile_gateways(&catalog, &old)?;
    let new_gateways = compile_gateways(&catalog, &new)?;
    let paint = Paint::new(args.color);
    if let (DiffFormat::Unified, Some(backend)) = (args.format, args.backend) {
        let mut text = unified(&old_hosts, &new_hosts, backend, paint)?;
        text.push_str(&unified_gateways(
            &old_gateways,
            &new_gateways,
            backend,
            paint,
        )?);
        out.write_all(text.as_bytes())?;
        return Ok(if text.is_empty() {
            Outcome::Success
        } else {
            Outcome::Differences
        });
    }
    let d = diff_sites(
        Side {
            site: &old_name,
            release: old.release,
            topology: &old,
            hosts: &old_hosts,
            gateways: &old_gateways,
        },
        Side {
            site: &new_name,
            release: new.release,
            topology: &new,
            hosts: &new_hosts,
            gateways: &new_gateways,
        },
    );
    let text = match args.format {
        DiffFormat::Json => serde_json::to_string_pretty(&d)? + "\n",
        _ => site_text(&d, paint),
    };
    out.write_all(text.as_bytes())?;
    Ok(if d.is_empty() {
        Outcome::Success
    } else {
        Outcome::Differences
    })
}

/// Runs `abrfw flows --diff FROM TO`.
pub fn catalog(
    from: &Release,
    to: &Release,
    format: FlowsFormat,
    out: &mut dyn std::io::Write,
) -> Result<Outcome> {
    let d = diff_releases(from, to);
    let text = match format {
        FlowsFormat::Json => serde_json::to_string_pretty(&d)? + "\n",
        FlowsFormat::Table => catalog_text(&d, from, to),
        FlowsFormat::Markdown => catalog_markdown(&d, from, to),
        FlowsFormat::Dot => anyhow::bail!(
            "--format dot draws one catalog, not a difference\n  \
             hint: use --format table, json or markdown with --diff"
        ),
    };
    out.write_all(text.as_bytes())?;
    Ok(if d.is_empty() {
        Outcome::Success
    } else {
        Outcome::Differences
    })
}

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
struct Paint {
    on: bool,
}

const ADDED: Style = AnsiColor::Green.on_default();
const REMOVED: Style = AnsiColor::Red.on_default();
const CHANGED: Style = AnsiColor::Yellow.on_default();
const NOTE: Style = AnsiColor::Cyan.on_default();
const HEADER: Style = Style::new().bold();

impl Paint {
    /// `auto` colours when stdout is a terminal and NO_COLOR is unset (anstream's rules, which
    /// also honour CLICOLOR_FORCE).
    fn new(when: ColorWhen) -> Self {
        let on = match when {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => !matches!(
                anstream::AutoStream::choice(&std::io::stdout()),
                anstream::ColorChoice::Never
            ),
        };
        Self { on }
    }

    fn paint(self, style: Style, text: &str) -> String {
        if self.on {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }
}

/// `inbound tcp 9876 from console [192.0.2.11, 2001:db8:0:1::11] sport 49152-65535`.
fn rule_core(r: &Rule) -> String {
    let dir = match r.direction {
        abrfw_core::Direction::Inbound => "from",
        abrfw_core::Direction::Outbound => "to",
    };
    let mut addrs: Vec<String> = r.peers.v4.iter().map(ToString::to_string).collect();
    addrs.extend(r.peers.v6.iter().map(ToString::to_string));
    let names = if r.peer_hosts.is_empty() {
        String::new()
    } else {
        format!("{} ", r.peer_hosts.join(", "))
    };
    let sport = r
        .source_ports
        .map_or_else(|| "any".to_owned(), |p| p.to_string());
    format!(
        "{} {dir} {names}[{}] sport {sport}",
        r.destination_port,
        addrs.join(", ")
    )
}

fn direction(r: abrfw_core::Direction) -> &'static str {
    match r {
        abrfw_core::Direction::Inbound => "inbound",
        abrfw_core::Direction::Outbound => "outbound",
    }
}

fn site_text(d: &SiteDiff, p: Paint) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}",
        p.paint(
            HEADER,
            &format!("--- {} (release {})", d.from.site, d.from.release)
        )
    );
    let _ = writeln!(
        s,
        "{}",
        p.paint(
            HEADER,
            &format!("+++ {} (release {})", d.to.site, d.to.release)
        )
    );
    let (mut added, mut removed, mut changed, mut hosts) = (0, 0, 0, 0);
    for h in &d.hosts {
        host_text(&mut s, h, d, p);
        added += h.added.len();
        removed += h.removed.len();
        changed += h.changed.len();
        hosts += usize::from(h.status != HostStatus::Unchanged);
    }
    for g in &d.gateways {
        gateway_text(&mut s, g, p);
        added += g.added.len();
        removed += g.removed.len();
        changed += g.changed.len();
        hosts += 1;
    }
    s.push('\n');
    if d.is_empty() {
        s.push_str("no differences\n");
    } else {
        let _ = writeln!(
            s,
            "{hosts} host(s) or gateway(s) differ: {added} rule(s) added, {removed} removed, {changed} changed"
        );
    }
    s
}

fn host_text(s: &mut String, h: &HostDiff, d: &SiteDiff, p: Paint) {
    let _ = writeln!(
        s,
        "\n{}",
        p.paint(HEADER, &format!("host {}: {}", h.host, h.status.as_str()))
    );
    for (roles, release) in [
        (&h.idle_roles.from, &d.from.release),
        (&h.idle_roles.to, &d.to.release),
    ] {
        for role in roles {
            let _ = writeln!(
                s,
                "  {}",
                p.paint(
                    NOTE,
                    &format!("note: role {role} has no flows in release {release}")
                )
            );
        }
    }
    for r in &h.added {
        let line = format!(
            "+ {} {} {} [{}] {}",
            direction(r.direction),
            r.protocol.as_str(),
            rule_core(r),
            r.flow,
            r.purpose
        );
        let _ = writeln!(s, "  {}", p.paint(ADDED, &line));
    }
    for r in &h.removed {
        let line = format!(
            "- {} {} {} [{}] {}",
            direction(r.direction),
            r.protocol.as_str(),
            rule_core(r),
            r.flow,
            r.purpose
        );
        let _ = writeln!(s, "  {}", p.paint(REMOVED, &line));
    }
    for c in &h.changed {
        let line = format!(
            "~ {} {} [{}] {}",
            direction(c.direction),
            c.protocol.as_str(),
            c.flow,
            c.purpose
        );
        let _ = writeln!(s, "  {}", p.paint(CHANGED, &line));
        let old: Vec<String> = c.from.iter().map(rule_core).collect();
        let new: Vec<String> = c.to.iter().map(rule_core).collect();
        changed_group(s, p, &old, &new, (&c.from[0].purpose, &c.to[0].purpose));
    }
}

/// The lines under a changed group: only its rules that differ (the JSON keeps the whole
/// groups), then the purpose when it changed.
fn changed_group(s: &mut String, p: Paint, old: &[String], new: &[String], purpose: (&str, &str)) {
    for r in old.iter().filter(|r| !new.contains(r)) {
        let _ = writeln!(s, "    {}", p.paint(REMOVED, &format!("- {r}")));
    }
    for r in new.iter().filter(|r| !old.contains(r)) {
        let _ = writeln!(s, "    {}", p.paint(ADDED, &format!("+ {r}")));
    }
    let (old, new) = purpose;
    if old != new {
        let _ = writeln!(s, "    {}", p.paint(REMOVED, &format!("- purpose: {old}")));
        let _ = writeln!(s, "    {}", p.paint(ADDED, &format!("+ purpose: {new}")));
    }
}

/// `tcp 9876 lan -> dmz from a, b [addrs] to c [addrs] sport 49152-65535`.
fn forward_core(r: &ForwardRule) -> String {
    let side = |names: &[String], peers: &abrfw_core::Peers| {
        let mut addrs: Vec<String> = peers.v4.iter().map(ToString::to_string).collect();
        addrs.extend(peers.v6.iter().map(ToString::to_string));
        format!("{} [{}]", names.join(", "), addrs.join(", "))
    };
    let sport = r
        .source_ports
        .map_or_else(|| "any".to_owned(), |p| p.to_string());
    format!(
        "{} {} {} -> {} from {} to {} sport {sport}",
        r.protocol.as_str(),
        r.destination_port,
        r.from_zone.name,
        r.to_zone.name,
        side(&r.source_hosts, &r.sources),
        side(&r.destination_hosts, &r.destinations)
    )
}

fn gateway_text(s: &mut String, g: &GatewayDiff, p: Paint) {
    let _ = writeln!(
        s,
        "\n{}",
        p.paint(
            HEADER,
            &format!("gateway {}: {}", g.gateway, g.status.as_str())
        )
    );
    for (sign, style, list) in [("+", ADDED, &g.added), ("-", REMOVED, &g.removed)] {
        for r in list {
            let line = format!(
                "{sign} forward {} [{}] {}",
                forward_core(r),
                r.flow,
                r.purpose
            );
            let _ = writeln!(s, "  {}", p.paint(style, &line));
        }
    }
    for c in &g.changed {
        let line = format!(
            "~ forward {} [{}] {}",
            c.protocol.as_str(),
            c.flow,
            c.purpose
        );
        let _ = writeln!(s, "  {}", p.paint(CHANGED, &line));
        let old: Vec<String> = c.from.iter().map(forward_core).collect();
        let new: Vec<String> = c.to.iter().map(forward_core).collect();
        changed_group(s, p, &old, &new, (&c.from[0].purpose, &c.to[0].purpose));
    }
}

fn flow_line(f: &abrfw_core::diff::FlowSummary) -> String {
    format!(
        "{} {} -> {} {}/{} ({} confidence): {}",
        f.id,
        f.initiator,
        f.responder,
        f.protocol.as_str(),
        f.port,
        f.confidence,
        f.purpose
    )
}

fn catalog_text(d: &CatalogDiff, from: &Release, to: &Release) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "--- release {} ({})", from.id, from.title);
    let _ = writeln!(s, "+++ release {} ({})", to.id, to.title);
    let roles = |rs: &[abrfw_core::Role]| -> String {
        rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    };
    if !d.roles_removed.is_empty() {
        let _ = writeln!(
            s,
            "\nroles without flows in {}: {}",
            to.id,
            roles(&d.roles_removed)
        );
    }
    if !d.roles_added.is_empty() {
        let _ = writeln!(s, "\nroles new in {}: {}", to.id, roles(&d.roles_added));
    }
    if !d.added.is_empty() {
        s.push('\n');
        for f in &d.added {
            let _ = writeln!(s, "+ {}", flow_line(f));
        }
    }
    if !d.removed.is_empty() {
        s.push('\n');
        for f in &d.removed {
            let _ = writeln!(s, "- {}", flow_line(f));
        }
    }
    for c in &d.changed {
        let _ = writeln!(s, "\n~ {}: {}", c.id, c.purpose);
        for f in &c.fields {
            let _ = writeln!(s, "    {}: {:?} -> {:?}", f.field, f.from, f.to);
        }
    }
    s.push('\n');
    if d.is_empty() {
        s.push_str("no differences\n");
    } else {
        let _ = writeln!(
            s,
            "{} flow(s) added, {} removed, {} changed; {} role(s) added, {} removed",
            d.added.len(),
            d.removed.len(),
            d.changed.len(),
            d.roles_added.len(),
            d.roles_removed.len()
        );
    }
    s
}

/// Markdown for release notes: one table per kind of change.
fn catalog_markdown(d: &CatalogDiff, from: &Release, to: &Release) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Flow changes from {} to {}\n", from.id, to.id);
    let _ = writeln!(s, "From {} to {}.\n", from.title, to.title);
    let roles = |rs: &[abrfw_core::Role]| -> String {
        rs.iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !d.roles_removed.is_empty() {
        let _ = writeln!(
            s,
            "Roles without flows in {}: {}.\n",
            to.id,
            roles(&d.roles_removed)
        );
    }
    if !d.roles_added.is_empty() {
        let _ = writeln!(s, "Roles new in {}: {}.\n", to.id, roles(&d.roles_added));
    }
    for (title, list) in [("Added flows", &d.added), ("Removed flows", &d.removed)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "## {title}\n\n| id | initiator -> responder | port | purpose | confidence |\n| --- | --- | --- | --- | --- |"
        );
        for f in list {
            let _ = writeln!(
                s,
                "| `{}` | {} -> {} | {}/{} | {} | {} |",
                f.id,
                f.initiator,
                f.responder,
                f.protocol.as_str(),
                f.port,
                f.purpose,
                f.confidence
            );
        }
        s.push('\n');
    }
    if !d.changed.is_empty() {
        s.push_str("## Changed flows\n\n| id | field | from | to |\n| --- | --- | --- | --- |\n");
        for c in &d.changed {
            for f in &c.fields {
                let _ = writeln!(s, "| `{}` | {} | {} | {} |", c.id, f.field, f.from, f.to);
            }
        }
        s.push('\n');
    }
    if d.is_empty() {
        s.push_str("No differences.\n");
    }
    s
}

/// A unified diff of the files `backend` renders for every host, old against new; empty when
/// every file is the same. A host only one side has is diffed against /dev/null.
fn unified(old: &[HostRules], new: &[HostRules], backend: Backend, p: Paint) -> Result<String> {
    let mut hosts: BTreeMap<&str, (Option<&HostRules>, Option<&HostRules>)> = BTreeMap::new();
    for h in old {
        hosts.entry(&h.host).or_default().0 = Some(h);
    }
    for h in new {
        hosts.entry(&h.host).or_default().1 = Some(h);
    }
    let render = |h: Option<&HostRules>| -> Result<Vec<(&'static str, String)>> {
        match h {
            Some(h) => backend.render_host(h),
            _ => Ok(Vec::new()),
        }
    };
    let mut s = String::new();
    for (name, (a, b)) in hosts {
        files_diff(&mut s, name, &render(a)?, &render(b)?, p);
    }
    Ok(s)
}

/// The same for the `[[gateway]]` forward rule sets the backend writes.
fn unified_gateways(
    old: &[GatewayRules],
    new: &[GatewayRules],
    backend: Backend,
    p: Paint,
) -> Result<String> {
    let mut gateways: BTreeMap<&str, (Option<&GatewayRules>, Option<&GatewayRules>)> =
        BTreeMap::new();
    for g in old {
        gateways.entry(&g.gateway).or_default().0 = Some(g);
    }
    for g in new {
        gateways.entry(&g.gateway).or_default().1 = Some(g);
    }
    let render = |g: Option<&GatewayRules>| -> Result<Vec<(&'static str, String)>> {
        match g {
            Some(g) => Ok(backend.render_gw(g)?.unwrap_or_default()),
            None => Ok(Vec::new()),
        }
    };
    let mut s = String::new();
    for (name, (a, b)) in gateways {
        files_diff(&mut s, name, &render(a)?, &render(b)?, p);
    }
    Ok(s)
}

/// Appends the unified diff of every file of `name` that differs between `fa` and `fb`.
fn files_diff(
    s: &mut String,
    name: &str,
    fa: &[(&'static str, String)],
    fb: &[(&'static str, String)],
    p: Paint,
) {
    let mut files: Vec<&'static str> = fa.iter().map(|(f, _)| *f).collect();
    for (f, _) in fb {
        if !files.contains(f) {
            files.push(f);
        }
    }
    for file in files {
        let left = fa.iter().find(|(f, _)| *f == file).map(|(_, t)| t.as_str());
        let right = fb.iter().find(|(f, _)| *f == file).map(|(_, t)| t.as_str());
        if left == right {
            continue;
        }
        let old_header = left.map_or("/dev/null".to_owned(), |_| format!("a/{name}/{file}"));
        let new_header = right.map_or("/dev/null".to_owned(), |_| format!("b/{name}/{file}"));
        let text = similar::TextDiff::from_lines(left.unwrap_or(""), right.unwrap_or(""))
            .unified_diff()
            .context_radius(3)
            .header(&old_header, &new_header)
            .to_string();
        for line in text.split_inclusive('\n') {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                HEADER
            } else if line.starts_with('+') {
                ADDED
            } else if line.starts_with('-') {
                REMOVED
            } else if line.starts_with("@@") {
                NOTE
            } else {
                Style::new()
            };
            if p.on && style != Style::new() {
                let (body, end) = match line.strip_suffix('\n') {
                    Some(b) => (b, "\n"),
                    None => (line, ""),
                };
                s.push_str(&p.paint(style, body));
                s.push_str(end);
            } else {
                s.push_str(line);
            }
        }
    }
}
