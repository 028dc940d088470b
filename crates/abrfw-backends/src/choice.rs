//! Which backends each host and gateway of a site is written with: its own `backends = [...]`,
//! else `[options] linux_backends = [...]` for Linux and appliance ones, else the table's default
//! rows. Every name is checked against [`BACKENDS`](crate::BACKENDS) (the OSes a row serves, its
//! gateway mode), so the topology's lists and the table can never disagree.

use std::collections::HashMap;

use abrfw_core::topology::{BackendList, unknown};
use abrfw_core::{Diagnostic, Os, Topology};

use crate::{BACKENDS, Backend, for_gateway, for_host};

/// The backends chosen for every host and gateway of one site.
#[derive(Debug, Default)]
pub struct Choice {
    /// Hosts with their own `backends`, by name.
    hosts: HashMap<String, Vec<&'static Backend>>,
    /// Gateways with their own `backends`, by name.
    gateways: HashMap<String, Vec<&'static Backend>>,
    /// `linux_backends`, when set.
    linux: Option<Vec<&'static Backend>>,
}

impl Choice {
    /// The backends host `name` (running `os`) is written with, in table order.
    pub fn host(&self, name: &str, os: Os) -> Vec<&'static Backend> {
        if let Some(own) = self.hosts.get(name) {
            return own.clone();
        }
        match &self.linux {
            Some(list) if os.is_linux() => list.iter().copied().filter(|b| b.serves(os)).collect(),
            _ => for_host(os).collect(),
        }
    }

    /// The backends gateway `name` (running `os`) is written with, in table order.
    pub fn gateway(&self, name: &str, os: Os) -> Vec<&'static Backend> {
        if let Some(own) = self.gateways.get(name) {
            return own.clone();
        }
        match &self.linux {
            Some(list) if os.is_linux() => list
                .iter()
                .copied()
                .filter(|b| b.serves_gateway(os))
                .collect(),
            _ => for_gateway(os).collect(),
        }
    }
}

/// Checks every backend list of the topology against the table and returns the choice, or one
/// located diagnostic per problem (unknown name with a did-you-mean, a backend that does not
/// serve the host's OS or has no gateway mode, a repeated or empty list).
pub fn choose(topology: &Topology) -> Result<Choice, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut choice = Choice::default();
    let mut linux_ok = true;
    if let Some(list) = &topology.options.linux_backends {
        let linux = |b: &Backend| b.serves(Os::Linux) || b.serves(Os::Appliance);
        let found = names(list, "[options] linux_backends", &mut problems, |b| {
            (!linux(b)).then(|| {
                (
                    format!("backend {:?} does not serve Linux hosts", b.name),
                    format!(
                        "it serves {}; backends for Linux: {}",
                        b.served().join(", "),
                        list_of(BACKENDS.iter().filter(|b| linux(b)))
                    ),
                )
            })
        });
        linux_ok = found.len() == list.names.len();
        choice.linux = Some(found);
    }
    for host in &topology.hosts {
        let Some(list) = &host.backends else { continue };
        let Some(os) = host.os else {
            problems.push(
                Diagnostic::new(
                    format!(
                        "host {:?} has no `os`, so no backend writes rules for it",
                        host.name
                    ),
                    list.span.clone(),
                )
                .help("remove `backends`, or give the host an `os`"),
            );
            continue;
        };
        let found = names(list, "`backends`", &mut problems, |b| {
            (!b.serves(os)).then(|| {
                (
                    format!("backend {:?} does not serve os {os}", b.name),
                    format!(
                        "backends for {os}: {}",
                        list_of(BACKENDS.iter().filter(|b| b.serves(os)))
                    ),
                )
            })
        });
        choice.hosts.insert(host.name.clone(), found);
    }
    for gw in &topology.gateways {
        let Some(list) = &gw.backends else { continue };
        let os = gw.os;
        let found = names(list, "`backends`", &mut problems, |b| {
            (!b.serves_gateway(os)).then(|| {
                let why = if b.gateway {
                    format!("backend {:?} does not serve gateway os {os}", b.name)
                } else {
                    format!("backend {:?} writes no gateway rules", b.name)
                };
                (
                    why,
                    format!("gateway backends for {os}: {}", list_of(for_gateway(os))),
                )
            })
        });
        choice.gateways.insert(gw.name.clone(), found);
    }
    // `linux_backends` must leave every Linux target something to write.
    if let Some(list) = &topology.options.linux_backends
        && !list.names.is_empty()
        && linux_ok
    {
        for host in &topology.hosts {
            if let Some(os) = host.os
                && host.backends.is_none()
                && choice.host(&host.name, os).is_empty()
            {
                problems.push(nothing_left(list, "host", &host.name, os, || {
                    list_of(BACKENDS.iter().filter(|b| b.serves(os)))
                }));
            }
        }
        for gw in &topology.gateways {
            if gw.backends.is_none() && choice.gateway(&gw.name, gw.os).is_empty() {
                problems.push(nothing_left(list, "gateway", &gw.name, gw.os, || {
                    list_of(for_gateway(gw.os))
                }));
            }
        }
    }
    if problems.is_empty() {
        Ok(choice)
    } else {
        problems.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
        Err(problems)
    }
}

/// The rows one list names, in table order; a problem for each unknown, unfit or repeated name.
fn names(
    list: &BackendList,
    what: &str,
    problems: &mut Vec<Diagnostic>,
    unfit: impl Fn(&Backend) -> Option<(String, String)>,
) -> Vec<&'static Backend> {
    if list.names.is_empty() {
        problems.push(
            Diagnostic::new(format!("{what} is empty"), list.span.clone()).help(format!(
                "list at least one backend ({}), or leave it out for the default",
                list_of(BACKENDS.iter())
            )),
        );
    }
    let known: Vec<&str> = BACKENDS.iter().map(|b| b.name).collect();
    let mut seen: Vec<&str> = Vec::new();
    for (name, span) in &list.names {
        let Some(b) = crate::find(name) else {
            problems.push(unknown("backend", name, span.clone(), &known));
            continue;
        };
        if seen.contains(&b.name) {
            problems.push(
                Diagnostic::new(
                    format!("backend {:?} is listed twice", b.name),
                    span.clone(),
                )
                .help("remove the repeated name"),
            );
            continue;
        }
        if let Some((message, help)) = unfit(b) {
            problems.push(Diagnostic::new(message, span.clone()).help(help));
            continue;
        }
        seen.push(b.name);
    }
    BACKENDS.iter().filter(|b| seen.contains(&b.name)).collect()
}

fn nothing_left(
    list: &BackendList,
    what: &str,
    name: &str,
    os: Os,
    fit: impl Fn() -> String,
) -> Diagnostic {
    Diagnostic::new(
        format!("no backend in `linux_backends` writes rules for {what} {name:?} (os {os})"),
        list.span.clone(),
    )
    .help(format!(
        "add one of {} to `linux_backends`, or give the {what} its own `backends = [...]`",
        fit()
    ))
}

fn list_of<'a>(rows: impl Iterator<Item = &'a Backend>) -> String {
    rows.map(|b| b.name).collect::<Vec<_>>().join(", ")
}
