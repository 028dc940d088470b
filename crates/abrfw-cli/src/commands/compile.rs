//! `abrfw compile`: topology -> rule sets, written to a directory or printed for one host.

use std::path::PathBuf;

use abrfw_core::{Catalog, GatewayRules, HostRules, compile, compile_gateways};
use anyhow::{Result, bail};

use crate::args::{Backend, CompileArgs};
use crate::backend::WRITTEN;
use crate::write::atomic_write;
use crate::{Outcome, site};

/// Runs the command: renders everything first, so an error leaves no file written.
pub fn run(args: &CompileArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    let catalog = Catalog::builtin();
    let topology = site::load(&args.site, &catalog)?;
    let hosts = compile(&catalog, &topology)?;
    let gateways = compile_gateways(&catalog, &topology)?;

    if let Some(name) = &args.host
        && let Some(gw) = gateways.iter().find(|g| &g.gateway == name)
    {
        return print_gateway(gw, args.backend, out);
    }
    if let Some(name) = &args.host {
        let Some(host) = hosts.iter().find(|h| &h.host == name) else {
            let known = topology.hosts.iter().find(|h| &h.name == name);
            match known {
                Some(_) => bail!("host {name:?} has no `os`: abrfw writes no rules for peers"),
                None => bail!("no host named {name:?} in the topology"),
            }
        };
        let backend = match args.backend {
            Some(b) => b,
            None => match WRITTEN.into_iter().find(|b| b.serves(host.os)) {
                Some(b) => b,
                None => bail!(
                    "no backend writes rules for host {name:?} (os {}) yet; use --backend ir for its IR",
                    host.os
                ),
            },
        };
        if !backend.serves(host.os) {
            bail!(
                "host {name:?} runs {}, but the {} backend serves {}",
                host.os,
                backend.name(),
                backend.served().join(", ")
            );
        }
        print_files(&backend.render(host)?, out)?;
        return Ok(Outcome::Success);
    }

    let Some(dir) = &args.out_dir else {
        bail!("give --out-dir DIR, or --host NAME to print one rule set");
    };
    let backends = backends_for(args.backend)?;
    let targets: Vec<Target<'_>> = hosts
        .iter()
        .map(Target::Host)
        .chain(gateways.iter().map(Target::Gateway))
        .collect();
    // Everything is rendered (on every core) before anything is written, so a rendering error
    // leaves no file written; only the file names, and with --check whether each differs, are
    // kept, so memory stays bounded however large the site.
    let rendered = abrfw_core::par::map(&targets, |t| -> Result<Vec<(PathBuf, bool)>> {
        Ok(t.render(&backends, dir)?
            .into_iter()
            .map(|(path, text)| {
                let differs = args.check
                    && std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str());
                (path, differs)
            })
            .collect())
    });
    let mut files = Vec::new();
    for r in rendered {
        files.extend(r?);
    }
    if args.check {
        let mut differ = 0;
        for (path, _) in files.iter().filter(|(_, differs)| *differs) {
            writeln!(out, "differs: {}", path.display())?;
            differ += 1;
        }
        return Ok(if differ == 0 {
            Outcome::Success
        } else {
            Outcome::Differences
        });
    }
    // Render again and write each file as soon as it is rendered, on every core.
    let written = abrfw_core::par::map(&targets, |t| -> Result<()> {
        for (path, text) in t.render(&backends, dir)? {
            atomic_write(&path, &text)?;
        }
        Ok(())
    });
    for w in written {
        w?;
    }
    writeln!(
        out,
        "wrote {} file(s) for {} host(s) and {} gateway(s) into {}",
        files.len(),
        hosts.len(),
        gateways.len(),
        dir.display()
    )?;
    Ok(Outcome::Success)
}

/// Prints one gateway's rule set with the first backend that serves its OS (or the one asked for).
fn print_gateway(
    gw: &GatewayRules,
    backend: Option<Backend>,
    out: &mut dyn std::io::Write,
) -> Result<Outcome> {
    let candidates: Vec<Backend> = match backend {
        Some(b) => vec![b],
        None => WRITTEN.to_vec(),
    };
    for b in candidates {
        if let Some(files) = b.render_gateway(gw)? {
            print_files(&files, out)?;
            return Ok(Outcome::Success);
        }
    }
    bail!(
        "gateway {:?} runs {}; no {} backend writes gateway rules for it",
        gw.gateway,
        gw.os,
        backend.map(Backend::name).unwrap_or("available")
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

/// The backends `compile --out-dir` writes with.
fn backends_for(only: Option<Backend>) -> Result<Vec<Backend>> {
    Ok(match only {
        Some(Backend::Ir) => bail!("the ir backend only prints (--host NAME --backend ir)"),
        Some(b) => vec![b],
        None => WRITTEN.to_vec(),
    })
}

/// A host or a gateway: one directory of files under the output directory.
enum Target<'a> {
    Host(&'a HostRules),
    Gateway(&'a GatewayRules),
}

impl Target<'_> {
    /// Its files, in backend order, as `(path, contents)`.
    fn render(
        &self,
        backends: &[Backend],
        dir: &std::path::Path,
    ) -> Result<Vec<(PathBuf, String)>> {
        let mut files = Vec::new();
        match self {
            Target::Host(host) => {
                for backend in backends.iter().filter(|b| b.serves(host.os)) {
                    for (name, text) in backend.render(host)? {
                        files.push((dir.join(&host.host).join(name), text));
                    }
                }
            }
            Target::Gateway(gw) => {
                for backend in backends {
                    for (name, text) in backend.render_gateway(gw)?.unwrap_or_default() {
                        files.push((dir.join(&gw.gateway).join(name), text));
                    }
                }
            }
        }
        Ok(files)
    }
}
