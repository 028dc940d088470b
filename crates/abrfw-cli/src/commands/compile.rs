//! `abrfw compile`: topology -> rule sets, written to a directory or printed for one host.

use std::collections::BTreeMap;

use abrfw_core::{GatewayRules, HostRules, compile, compile_gateways};
use anyhow::{Result, bail};

use crate::args::{Backend, CompileArgs, CompileBackend};
use crate::tree::{self, Change, Manifest, Plan, PlannedFile, RenderedFile};
use crate::{Outcome, site};

/// Runs the command: renders everything first, so an error leaves no file written.
pub fn run(args: &CompileArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, topology, site_text) = site::load_site_with_text(&args.site)?;
    let hosts = compile(&catalog, &topology)?;
    let gateways = compile_gateways(&catalog, &topology)?;
    // A role the release has no flows for is said, not silently dropped.
    for note in site::idle_notes(&topology) {
        std::io::Write::write_all(&mut std::io::stderr(), format!("{note}\n").as_bytes())?;
    }

    let ir = args.ir || matches!(args.backend, Some(CompileBackend::Ir));
    let only = match args.backend {
        Some(CompileBackend::Rules(b)) => Some(b),
        _ => None,
    };
    if let Some(name) = &args.host
        && let Some(gw) = gateways.iter().find(|g| &g.gateway == name)
    {
        if ir {
            out.write_all((serde_json::to_string_pretty(gw)? + "\n").as_bytes())?;
            return Ok(Outcome::Success);
        }
        let chosen = site::choice(&topology)?.gateway(&gw.gateway, gw.os);
        return print_gateway(gw, only, &chosen, out);
    }
    if let Some(name) = &args.host {
        let Some(host) = hosts.iter().find(|h| &h.host == name) else {
            let known = topology.hosts.iter().find(|h| &h.name == name);
            match known {
                Some(_) => bail!("host {name:?} has no `os`: abrfw writes no rules for peers"),
                None => bail!("no host named {name:?} in the topology"),
            }
        };
        if ir {
            out.write_all((serde_json::to_string_pretty(host)? + "\n").as_bytes())?;
            return Ok(Outcome::Success);
        }
        let backend = match only {
            Some(b) => b,
            None => match site::choice(&topology)?
                .host(&host.host, host.os)
                .first()
                .copied()
            {
                Some(b) => b,
                None => bail!(
                    "no backend writes rules for host {name:?} (os {}) yet; use --ir for its IR",
                    host.os
                ),
            },
        };
        if !backend.serves(host.os) {
            bail!(
                "host {name:?} runs {}, but the {} backend serves {}",
                host.os,
                backend.name,
                backend.served().join(", ")
            );
        }
        print_files(&backend.render_host(host)?, out)?;
        return Ok(Outcome::Success);
    }

    let Some(dir) = &args.out_dir else {
        bail!("give --out-dir DIR, or --host NAME to print one rule set");
    };
    if ir {
        bail!("the IR is only printed (--host NAME --ir)");
    }
    // --backend writes that one backend for every host it serves; else each host and gateway
    // gets the backends the site chose for it.
    let choice = site::choice(&topology)?;
    let backends = Backends {
        only,
        choice: &choice,
    };
    let targets: BTreeMap<&str, Target<'_>> = hosts
        .iter()
        .map(|h| (h.host.as_str(), Target::Host(h)))
        .chain(
            gateways
                .iter()
                .map(|g| (g.gateway.as_str(), Target::Gateway(g))),
        )
        .collect();
    // Hosts, then gateways, as the manifest and the messages list them.
    let order: Vec<&Target<'_>> = hosts
        .iter()
        .map(|h| &targets[h.host.as_str()])
        .chain(gateways.iter().map(|g| &targets[g.gateway.as_str()]))
        .collect();
    // First pass, on every core: render, digest and compare with the disk; keep only digests,
    // so memory stays bounded however large the site. A rendering error stops the run here,
    // before anything is written.
    // A writing run holds DIR's lock from before it reads the tree until the manifest is
    // written, so two runs never interleave.
    let (root, _lock) = tree::open(
        dir,
        !args.check,
        std::time::Duration::from_secs(args.lock_wait),
    )?;
    let planned = abrfw_core::par::map(&order, |t| -> Result<Vec<PlannedFile>> {
        t.render(&backends)?
            .iter()
            .map(|f| PlannedFile::new(root.as_ref(), f))
            .collect()
    });
    let mut files = Vec::new();
    for p in planned {
        files.extend(p?);
    }
    let total = files.len();
    let manifest = Manifest::new(topology.release.id, &site_text, &files);
    let plan = Plan::new(dir, root.as_ref(), files, &manifest)?;
    if args.check {
        let changes = plan.changes();
        for (path, change) in &changes {
            writeln!(out, "{}: {}", change.as_str(), dir.join(path).display())?;
        }
        return Ok(if changes.is_empty() {
            Outcome::Success
        } else {
            Outcome::Differences
        });
    }
    // Second pass: the directories that change are rendered again and written.
    let Some(root) = &root else {
        bail!("{} is not open for writing", dir.display());
    };
    plan.apply(root, |name| match targets.get(name) {
        Some(t) => t.render(&backends),
        None => bail!("{name} is not a host or gateway of the site"),
    })?;
    writeln!(
        out,
        "wrote {} of {total} file(s) for {} host(s) and {} gateway(s) into {} ({} added, {} changed, {} unchanged, {} removed)",
        plan.count(Change::Added) + plan.count(Change::Changed),
        hosts.len(),
        gateways.len(),
        dir.display(),
        plan.count(Change::Added),
        plan.count(Change::Changed),
        plan.count(Change::Unchanged),
        plan.count(Change::Removed),
    )?;
    Ok(Outcome::Success)
}

/// Prints one gateway's rule set with the first backend chosen for it (or the one asked for).
fn print_gateway(
    gw: &GatewayRules,
    backend: Option<Backend>,
    chosen: &[Backend],
    out: &mut dyn std::io::Write,
) -> Result<Outcome> {
    let candidates: Vec<Backend> = match backend {
        Some(b) => vec![b],
        None => chosen.to_vec(),
    };
    for b in candidates {
        if let Some(files) = b.render_gw(gw)? {
            print_files(&files, out)?;
            return Ok(Outcome::Success);
        }
    }
    bail!(
        "gateway {:?} runs {}; no {} backend writes gateway rules for it",
        gw.gateway,
        gw.os,
        backend.map_or("available", |b| b.name)
    )
}

/// Writes one or several rendered files to stdout.
fn print_files(files: &[(&'static str, String)], out: &mut dyn std::io::Write) -> Result<()> {
    if let [(_, text)] = files {
        out.write_all(text.as_bytes())?;
    } else {
        // Several files (one per address family, say): print each after a header line that is
        // a comment in every format abrfw writes.
        for (name, text) in files {
            writeln!(out, "# ==> {name} <==")?;
            out.write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

/// The backends `compile --out-dir` writes with: the one `--backend` names, else the site's
/// choice for each host and gateway.
struct Backends<'a> {
    only: Option<Backend>,
    choice: &'a abrfw_backends::Choice,
}

impl Backends<'_> {
    fn host(&self, host: &HostRules) -> Vec<Backend> {
        match self.only {
            Some(b) => vec![b],
            None => self.choice.host(&host.host, host.os),
        }
    }

    fn gateway(&self, gw: &GatewayRules) -> Vec<Backend> {
        match self.only {
            Some(b) => vec![b],
            None => self.choice.gateway(&gw.gateway, gw.os),
        }
    }
}

/// A host or a gateway: one directory of files under the output directory.
enum Target<'a> {
    Host(&'a HostRules),
    Gateway(&'a GatewayRules),
}

impl Target<'_> {
    /// Its files, in backend order.
    fn render(&self, backends: &Backends<'_>) -> Result<Vec<RenderedFile>> {
        let mut files = Vec::new();
        match self {
            Target::Host(host) => {
                for backend in backends.host(host) {
                    for (name, text) in backend.render_host(host)? {
                        files.push(RenderedFile {
                            dir: host.host.clone(),
                            name: name.to_owned(),
                            text,
                        });
                    }
                }
            }
            Target::Gateway(gw) => {
                for backend in backends.gateway(gw) {
                    for (name, text) in backend.render_gw(gw)?.unwrap_or_default() {
                        files.push(RenderedFile {
                            dir: gw.gateway.clone(),
                            name: name.to_owned(),
                            text,
                        });
                    }
                }
            }
        }
        Ok(files)
    }
}
