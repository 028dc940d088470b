//! `abrfw verify`: a host's live firewall state against its compiled rules.
//!
//! The backend crates read their tool's output into a neutral `abrfw_core::verify::State` and
//! say which state their files load; `abrfw_core::verify::compare` finds the differences; this
//! module picks the files, reports located errors for unreadable ones, and prints text or JSON.

use std::fmt::Write as _;
use std::path::Path;

use abrfw_backends::{VERIFIERS, Verifier, not_verified};
use abrfw_core::verify::{LiveError, Report, compare};
use abrfw_core::{HostRules, compile};
use anyhow::{Result, bail};
use serde::Serialize;

use crate::args::{ExplainFormat, VerifyArgs};
use crate::{Outcome, site};

/// The outcome for one host and backend.
#[derive(Debug, Serialize)]
struct HostResult {
    host: String,
    backend: &'static str,
    /// The file that was read; `None` when --tree holds no state for the host.
    live: Option<String>,
    /// `match`, `differ` or `not-collected`.
    status: &'static str,
    report: Report,
}

/// The JSON document `--format json` prints.
#[derive(Debug, Serialize)]
struct Output {
    version: u32,
    hosts: Vec<HostResult>,
    /// Hosts and gateways verify does not check, with the reason.
    skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize)]
struct Skipped {
    name: String,
    reason: String,
}

/// Runs the command.
pub fn run(args: &VerifyArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, topology) = site::load_site(&args.site)?;
    let hosts = compile(&catalog, &topology)?;
    let mut output = Output {
        version: 1,
        hosts: Vec::new(),
        skipped: Vec::new(),
    };
    if let (Some(name), Some(live)) = (&args.host, &args.live) {
        let Some(host) = hosts.iter().find(|h| &h.host == name) else {
            let names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
            let hint = abrfw_core::topology::suggest(name, &names)
                .map(|n| format!("; did you mean {n:?}?"))
                .unwrap_or_default();
            bail!(
                "no host {name:?} in the site{hint}\n  hint: hosts: {}",
                names.join(", ")
            );
        };
        let text = read(live)?;
        let verifier = match args.backend {
            Some(v) => {
                if !v.serves(host.os) {
                    bail!(
                        "host {} runs {}; --backend {} checks {} hosts{}",
                        host.host,
                        host.os,
                        v.name,
                        os_names(v),
                        because(host.os)
                    );
                }
                v
            }
            None => guess(host, &text)?,
        };
        output.hosts.push(check(host, verifier, live, &text)?);
    } else if let Some(dir) = &args.tree {
        if !dir.is_dir() {
            bail!(
                "{}: not a directory\n  hint: --tree DIR reads DIR/<host>/<file> (docs/rollout.md)",
                dir.display()
            );
        }
        for host in &hosts {
            let verifiers: Vec<&Verifier> =
                VERIFIERS.iter().filter(|v| v.serves(host.os)).collect();
            if verifiers.is_empty() {
                output.skipped.push(Skipped {
                    name: host.host.clone(),
                    reason: format!(
                        "no live state abrfw can read for {} hosts{}",
                        host.os,
                        because(host.os)
                    ),
                });
                continue;
            }
            let mut found = false;
            for v in &verifiers {
                let path = dir.join(&host.host).join(v.live_file);
                if path.is_file() {
                    found = true;
                    let text = read(&path)?;
                    output.hosts.push(check(host, v, &path, &text)?);
                }
            }
            if !found {
                output.hosts.push(HostResult {
                    host: host.host.clone(),
                    backend: verifiers[0].name,
                    live: None,
                    status: "not-collected",
                    report: Report::default(),
                });
            }
        }
        for gw in &topology.gateways {
            output.skipped.push(Skipped {
                name: gw.name.clone(),
                reason: "gateways are not verified yet (forward rules)".to_owned(),
            });
        }
    }
    let differ = output.hosts.iter().any(|h| h.status != "match");
    let text = match args.format {
        ExplainFormat::Json => serde_json::to_string_pretty(&output)? + "\n",
        ExplainFormat::Text => text(&output, args.tree.as_deref()),
    };
    out.write_all(text.as_bytes())?;
    Ok(if differ {
        Outcome::Differences
    } else {
        Outcome::Success
    })
}

fn os_names(v: &Verifier) -> String {
    let names: Vec<&str> = v.os.iter().map(|o| o.as_str()).collect();
    names.join(", ")
}

/// `: <reason>` when the backend table says why an OS cannot be verified.
fn because(os: abrfw_core::Os) -> String {
    not_verified(os)
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// The file as text: UTF-8, or UTF-16 with a byte-order mark (what `>` writes in Windows
/// PowerShell 5.1, where a Windows host's export is often collected).
fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let utf16 = |be: bool| -> Option<String> {
        let units: Vec<u16> = bytes[2..]
            .chunks(2)
            .map(|c| match (c, be) {
                ([a, b], false) => Some(u16::from_le_bytes([*a, *b])),
                ([a, b], true) => Some(u16::from_be_bytes([*a, *b])),
                _ => None,
            })
            .collect::<Option<_>>()?;
        String::from_utf16(&units).ok()
    };
    let decoded = match bytes.get(..2) {
        Some([0xff, 0xfe]) => utf16(false),
        Some([0xfe, 0xff]) => utf16(true),
        _ => String::from_utf8(bytes.clone()).ok(),
    };
    decoded.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: neither UTF-8 nor UTF-16 with a byte-order mark",
            path.display()
        )
    })
}

/// The verifier for a host's OS; between two (nftables and iptables on Linux), the one whose
/// format the file has (JSON is nft's).
fn guess(host: &HostRules, text: &str) -> Result<&'static Verifier> {
    let candidates: Vec<&'static Verifier> =
        VERIFIERS.iter().filter(|v| v.serves(host.os)).collect();
    let json = text.trim_start().starts_with('{');
    match candidates.as_slice() {
        [] => bail!(
            "abrfw cannot read the live state of {} hosts (host {}){}",
            host.os,
            host.host,
            because(host.os)
        ),
        [one] => Ok(one),
        many => {
            let by_format = many
                .iter()
                .find(|v| v.live_file.ends_with(".json") == json)
                .or(many.first());
            by_format
                .copied()
                .ok_or_else(|| anyhow::anyhow!("no verifier"))
        }
    }
}

/// Reads one live state and compares it with the host's compiled rules.
fn check(host: &HostRules, v: &'static Verifier, path: &Path, text: &str) -> Result<HostResult> {
    let live = (v.parse)(text).map_err(|e| located(path, text, v, &e))?;
    let report = compare(&(v.expected)(host)?, &live);
    Ok(HostResult {
        host: host.host.clone(),
        backend: v.name,
        live: Some(path.display().to_string()),
        status: if report.is_empty() { "match" } else { "differ" },
        report,
    })
}

/// An unreadable live file as a located report: the line with a caret, and how to fix it.
fn located(path: &Path, text: &str, v: &Verifier, e: &LiveError) -> anyhow::Error {
    let source = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
    let shown: String = source.chars().take(160).collect();
    let number = e.line.to_string();
    let pad = " ".repeat(number.len());
    let caret = " ".repeat(e.column.saturating_sub(1).min(shown.chars().count()));
    anyhow::anyhow!(
        "{path}:{line}:{column}: {v} live state: {message}\n{pad} --> {path}:{line}:{column}\n{pad} |\n{number} | {shown}\n{pad} | {caret}^\n  help: {hint}",
        path = path.display(),
        line = e.line,
        column = e.column,
        v = v.name,
        message = e.message,
        hint = e.hint,
    )
}

fn text(output: &Output, tree: Option<&Path>) -> String {
    let mut s = String::new();
    let (mut differ, mut matched) = (0, 0);
    for h in &output.hosts {
        match h.status {
            "match" => {
                matched += 1;
                let _ = writeln!(s, "host {} ({}): matches", h.host, h.backend);
            }
            "not-collected" => {
                differ += 1;
                let dir = tree.map(|t| t.join(&h.host)).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "host {} ({}): no live state in {}/ (collect it: docs/rollout.md)",
                    h.host,
                    h.backend,
                    dir.display()
                );
            }
            _ => {
                differ += 1;
                let r = &h.report;
                let _ = writeln!(
                    s,
                    "host {} ({}): {} difference(s)",
                    h.host,
                    h.backend,
                    r.len()
                );
                for p in &r.policies {
                    let _ = writeln!(
                        s,
                        "  ! policy  {}: {} expected, {} live",
                        p.place,
                        p.expected.as_deref().unwrap_or("none"),
                        p.live.as_deref().unwrap_or("none (chain missing)")
                    );
                }
                for m in &r.missing {
                    let _ = writeln!(s, "  - missing {m}  [{}]", flow(m.flow.as_deref()));
                }
                for c in &r.changed {
                    let _ = writeln!(
                        s,
                        "  ~ changed [{}] {}\n            live: {}",
                        c.flow, c.expected, c.live
                    );
                }
                for x in &r.extra {
                    let _ = writeln!(s, "  + extra   {x}  [{}]", flow(x.flow.as_deref()));
                }
                for m in &r.missing_other {
                    let _ = writeln!(s, "  - missing in {}: {}", m.place, m.text);
                }
                for x in &r.extra_other {
                    let _ = writeln!(s, "  + extra   in {}: {}  [not abrfw's]", x.place, x.text);
                }
            }
        }
    }
    for k in &output.skipped {
        let _ = writeln!(s, "skipped {}: {}", k.name, k.reason);
    }
    let _ = writeln!(s, "\n{} host state(s) match, {} differ", matched, differ);
    s
}

fn flow(id: Option<&str>) -> &str {
    id.unwrap_or("no flow id")
}
