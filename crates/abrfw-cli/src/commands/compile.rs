//! `abrfw compile`: topology -> rule sets, written to a directory or printed for one host.

use std::collections::BTreeMap;

use abrfw_core::{GatewayRules, HostRules, PeerClasses, compile, compile_gateways};
use anyhow::{Result, bail};

use crate::args::{Backend, CompileArgs, CompileBackend};
use crate::classes::{self, Ir, Layout, Member, OwnedIr};
use crate::tree::{self, Change, DirPlan, ManifestHead, Plan, RenderedFile};
use crate::{Outcome, site};

/// Runs the command: renders everything first, so an error leaves no file written.
pub fn run(args: &CompileArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let (catalog, mut topology, site_text) = site::load_site_with_text(&args.site)?;
    // The manifest records the site's digest; the text itself is not kept.
    let site_sha256 = tree::sha256_hex(site_text.as_bytes());
    drop(site_text);
    let hosts = compile(&catalog, &topology)?;
    let gateways = compile_gateways(&catalog, &topology)?;
    // A role the release has no flows for is said, not silently dropped.
    for note in site::idle_notes(&topology) {
        std::io::Write::write_all(&mut std::io::stderr(), format!("{note}\n").as_bytes())?;
    }
    // The expanded [[allow]]s are in the rule sets now, and nothing below reads them: an
    // allow from `all` is one per host and port (150 MB at 100,000 hosts with the site-wide
    // allows of docs/rollout.md), not worth holding while every file is rendered.
    drop(std::mem::take(&mut topology.allows));

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
    // Hosts, then gateways, as the manifest and the messages list them.
    let members: Vec<Member<'_>> = hosts
        .iter()
        .map(|h| Member {
            ir: Ir::Host(h),
            backends: backends.host(h),
        })
        .chain(gateways.iter().map(|g| Member {
            ir: Ir::Gateway(g),
            backends: backends.gateway(g),
        }))
        .collect();
    // A writing run holds DIR's lock from before it reads the tree until the manifest is
    // written, so two runs never interleave.
    let (root, _lock) = tree::open(
        dir,
        !args.check,
        std::time::Duration::from_secs(args.lock_wait),
    )?;
    // The tree as abrfw last wrote it, read once, before anything is rendered.
    let old = tree::OldTree::read(dir, root.as_ref())?;
    // Without --layout, a tree keeps the layout it has; a new one is per host.
    let layout = match (args.layout, &old) {
        (Some(l), _) => l,
        (None, Some(old)) => old.layout,
        (None, None) => Layout::default(),
    };
    let classes = match layout {
        Layout::Hosts => Vec::new(),
        Layout::Classes => classes::classes(&members)?,
    };
    let index = match layout {
        Layout::Hosts => None,
        Layout::Classes => Some(RenderedFile {
            dir: classes::INDEX_DIR.to_owned(),
            name: classes::INDEX_FILE,
            text: classes::index_text(&members, &classes)?,
        }),
    };
    // In a class's rules.json a class name stands for its members among the peers.
    let peer_classes = PeerClasses::new(
        classes
            .iter()
            .map(|c| (c.name.as_str(), c.members.as_slice())),
    );
    // The directories of the tree: each host and gateway, or each class.
    let targets: BTreeMap<&str, Target<'_>> = match layout {
        Layout::Hosts => members
            .iter()
            .map(|m| {
                let target = match m.ir {
                    Ir::Host(h) => Target::Host(h, &m.backends, None),
                    Ir::Gateway(g) => Target::Gateway(g, &m.backends),
                };
                (m.ir.name(), target)
            })
            .collect(),
        Layout::Classes => classes
            .iter()
            .map(|c| {
                let target = match &c.ir {
                    OwnedIr::Host(h) => Target::Host(h, &c.backends, Some(&peer_classes)),
                    OwnedIr::Gateway(g) => Target::Gateway(g, &c.backends),
                };
                (c.name.as_str(), target)
            })
            .collect(),
    };
    let order: Vec<&str> = match layout {
        Layout::Hosts => members.iter().map(|m| m.ir.name()).collect(),
        Layout::Classes => classes.iter().map(|c| c.name.as_str()).collect(),
    };
    let render = |name: &str| -> Result<Vec<RenderedFile>> {
        match (targets.get(name), &index) {
            (Some(t), _) => t.render(),
            (None, Some(index)) if name == index.dir => Ok(vec![index.clone()]),
            (None, _) => bail!("{name} is not a host, gateway or class of the site"),
        }
    };
    // One pass, on every core: render, digest and compare with the disk, and in a writing run
    // stage what changes as temporary files; keep only digests, so memory stays bounded however
    // large the site. A rendering error or a refusal stops the run here, and what was staged is
    // removed again: nothing has been replaced.
    let mut dirs = order;
    if let Some(index) = &index {
        dirs.push(&index.dir);
    }
    let stage = !args.check;
    let planned = abrfw_core::par::map(&dirs, |d| -> Result<DirPlan> {
        DirPlan::new(root.as_ref(), stage, d, render(d)?)
    });
    let head = ManifestHead::new(topology.release.id, site_sha256, layout);
    let plan = Plan::new(dir, root.as_ref(), planned, head, old)?;
    let total = plan.len();
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
    // Then: the staged files durable, renamed into place, the manifest last.
    let Some(root) = &root else {
        bail!("{} is not open for writing", dir.display());
    };
    plan.apply(root)?;
    let classes_note = match layout {
        Layout::Hosts => String::new(),
        Layout::Classes => format!(" in {} class(es)", classes.len()),
    };
    writeln!(
        out,
        "wrote {} of {total} file(s) for {} host(s) and {} gateway(s){classes_note} into {} ({} added, {} changed, {} unchanged, {} removed)",
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

/// A host, a gateway or a class of either: one directory of files under the output directory,
/// with the backends that write it.
enum Target<'a> {
    /// A host, or with the class layout's classes a host class (a member's rules under the
    /// class's name).
    Host(&'a HostRules, &'a [Backend], Option<&'a PeerClasses>),
    Gateway(&'a GatewayRules, &'a [Backend]),
}

impl Target<'_> {
    /// Its files, in backend order.
    fn render(&self) -> Result<Vec<RenderedFile>> {
        let mut files = Vec::new();
        match self {
            Target::Host(host, backends, classes) => {
                for backend in *backends {
                    let rendered = match classes {
                        Some(classes) => backend.render_class(host, classes)?,
                        None => backend.render_host(host)?,
                    };
                    for (name, text) in rendered {
                        files.push(RenderedFile {
                            dir: host.host.clone(),
                            name,
                            text,
                        });
                    }
                }
                extras(&host.host, false, host.policy, &mut files)?;
            }
            Target::Gateway(gw, backends) => {
                for backend in *backends {
                    for (name, text) in backend.render_gw(gw)?.unwrap_or_default() {
                        files.push(RenderedFile {
                            dir: gw.gateway.clone(),
                            name,
                            text,
                        });
                    }
                }
                extras(&gw.gateway, true, gw.policy, &mut files)?;
            }
        }
        Ok(files)
    }
}

/// Appends the extra files of the backend table (apply.sh) made from the files rendered so far.
fn extras(
    dir: &str,
    gateway: bool,
    policy: abrfw_core::Policy,
    files: &mut Vec<RenderedFile>,
) -> Result<()> {
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    let of = abrfw_backends::ExtraFor {
        name: dir,
        gateway,
        fragment: policy == abrfw_core::Policy::Fragment,
        files: &names,
    };
    for (name, text) in abrfw_backends::render_extras(&of)? {
        files.push(RenderedFile {
            dir: dir.to_owned(),
            name,
            text,
        });
    }
    Ok(())
}
