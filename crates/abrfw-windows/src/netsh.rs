//! `netsh.cmd`: a cmd script of `netsh advfirewall firewall` commands (Vista / Server 2008 and
//! later), or of `netsh firewall` port openings for `windows-legacy` hosts (XP / Server 2003).

use std::collections::BTreeMap;

use abrfw_core::ipnet::Ipv4Net;
use abrfw_core::{Direction, Files, GatewayRules, HostRules, Os, Policy, Protocol};
use askama::Template;

use crate::mapping::{
    self, MAX_REMOTE_CHARS, NAME_PREFIX, POLICY_FILE, RETIRED_PREFIX, ROLLBACK_BOOT_TASK,
    ROLLBACK_TASK, STATE_DIR,
};
use crate::{Error, Options};

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "netsh";
/// File written for each Windows host.
pub const FILE_NAME: &str = "netsh.cmd";
/// cmd.exe refuses longer command lines.
pub const MAX_LINE: usize = 8191;
/// A legacy port opening is one port; a destination range is opened port by port up to this
/// many ports, and reported as not opened beyond that.
pub const MAX_LEGACY_RANGE: u32 = 64;

/// Renders `host` as a cmd script. Lines end in CRLF, as cmd files do.
pub fn render(host: &HostRules, opts: &Options) -> Result<Files, Error> {
    Ok(vec![(FILE_NAME, render_text(host, opts)?)])
}

/// Windows hosts are not gateways abrfw writes forward rules for: always `None`.
pub fn render_gateway(_gw: &GatewayRules, _opts: &Options) -> Result<Option<Files>, Error> {
    Ok(None)
}

/// The script as one string.
fn render_text(host: &HostRules, opts: &Options) -> Result<String, Error> {
    let text = match host.os {
        // The policy picks the template, as in every backend: the fragment forms are the same
        // scripts without the steps that turn the firewall on and set its default policy.
        Os::Windows => {
            let v = &View::new(host, opts);
            match host.policy {
                Policy::Drop => AdvfirewallTemplate { v }.render()?,
                Policy::Fragment => AdvfirewallFragmentTemplate { v }.render()?,
            }
        }
        Os::WindowsLegacy => {
            let v = &LegacyView::new(host);
            match host.policy {
                Policy::Drop => LegacyTemplate { v }.render()?,
                Policy::Fragment => LegacyFragmentTemplate { v }.render()?,
            }
        }
        other => return Err(Error::NotWindows(other)),
    };
    Ok(crate::crlf_lines("", &text))
}

#[derive(Template)]
#[template(path = "netsh.cmd")]
struct AdvfirewallTemplate<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "netsh-fragment.cmd")]
struct AdvfirewallFragmentTemplate<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "netsh-legacy.cmd")]
struct LegacyTemplate<'a> {
    v: &'a LegacyView,
}

#[derive(Template)]
#[template(path = "netsh-legacy-fragment.cmd")]
struct LegacyFragmentTemplate<'a> {
    v: &'a LegacyView,
}

/// Header fields both templates print.
struct Header {
    host: String,
    os: String,
    roles: String,
    release: String,
    /// `allowoutbound` for `outbound = "accept"`, else `blockoutbound`.
    outbound: &'static str,
    /// What the default policy blocks, for the step comment.
    blocks: &'static str,
    /// Log dropped packets to pfirewall.log (`log = "drops"` with policy drop).
    log: bool,
    prefix: &'static str,
    retired: &'static str,
    /// [`STATE_DIR`], [`POLICY_FILE`], [`ROLLBACK_TASK`] and [`ROLLBACK_BOOT_TASK`].
    state_dir: &'static str,
    policy_file: &'static str,
    task: &'static str,
    boot_task: &'static str,
}

impl Header {
    fn new(host: &HostRules) -> Self {
        Self {
            host: host.host.clone(),
            os: host.os.to_string(),
            roles: host.roles_text(),
            release: host.release.to_string(),
            outbound: if host.drops_outbound() {
                "blockoutbound"
            } else {
                "allowoutbound"
            },
            blocks: if host.drops_outbound() {
                "inbound and outbound"
            } else {
                "inbound; outbound is allowed (outbound = \"accept\")"
            },
            log: host.policy == Policy::Drop && host.log.drops(),
            prefix: NAME_PREFIX,
            retired: RETIRED_PREFIX,
            state_dir: STATE_DIR,
            policy_file: POLICY_FILE,
            task: ROLLBACK_TASK,
            boot_task: ROLLBACK_BOOT_TASK,
        }
    }
}

struct View {
    h: Header,
    rules: Vec<RuleView>,
}

/// One `add rule` line, every field ready to print.
struct RuleView {
    name: String,
    dir: &'static str,
    protocol: &'static str,
    local_port: String,
    remote_port: String,
    remote: String,
    description: String,
}

impl View {
    fn new(host: &HostRules, opts: &Options) -> Self {
        let rules = mapping::rules(host, opts, Some(MAX_REMOTE_CHARS))
            .into_iter()
            .map(|r| RuleView {
                name: r.name,
                dir: match r.direction {
                    Direction::Inbound => "in",
                    Direction::Outbound => "out",
                },
                protocol: r.protocol.as_str(),
                local_port: r.local_port.map_or_else(|| "any".to_owned(), mapping::port),
                remote_port: r
                    .remote_port
                    .map_or_else(|| "any".to_owned(), mapping::port),
                remote: r.remote.join(","),
                description: r.description,
            })
            .collect();
        Self {
            h: Header::new(host),
            rules,
        }
    }
}

struct LegacyView {
    h: Header,
    openings: Vec<Opening>,
    /// Things the legacy firewall cannot express, one `rem` line each (identifiers only).
    notes: Vec<String>,
    /// Openings abrfw refused to write, reported by the script at run time.
    skipped: Vec<String>,
    /// The success line's count of openings, when every opening was written (else empty).
    done: Vec<usize>,
    /// The script's exit status: 0 when every opening was written, 1 when some were refused
    /// (the admin's deployment tool sees the host as not fully done).
    exit_code: u8,
}

/// One `add portopening` line.
struct Opening {
    name: String,
    protocol: &'static str,
    port: u16,
    addresses: String,
}

impl LegacyView {
    /// The XP firewall knows inbound port openings with an IPv4 scope and nothing else: outbound
    /// rules, remote ports and IPv6 peers have no equivalent, and openings are keyed by port, so
    /// every inbound rule to the same port shares one opening with the union of the peers.
    fn new(host: &HostRules) -> Self {
        let mut ports: BTreeMap<(Protocol, u16), Vec<Ipv4Net>> = BTreeMap::new();
        let mut outbound = Vec::new();
        let mut v6_only = Vec::new();
        let mut v6_dropped = Vec::new();
        let mut source_filtered = Vec::new();
        let mut skipped = Vec::new();
        for rule in &host.rules {
            if rule.direction == Direction::Outbound {
                push_unique(&mut outbound, &rule.flow);
                continue;
            }
            if !rule.peers.v6.is_empty() {
                push_unique(&mut v6_dropped, &rule.flow);
            }
            if rule.peers.v4.is_empty() {
                push_unique(&mut v6_only, &rule.flow);
                continue;
            }
            if rule.source_ports.is_some() {
                push_unique(&mut source_filtered, &rule.flow);
            }
            let range = rule.destination_port;
            if u32::from(range.last) - u32::from(range.first) >= MAX_LEGACY_RANGE {
                skipped.push(format!(
                    "{} {} {}: a range of more than {MAX_LEGACY_RANGE} ports",
                    rule.flow,
                    protocol_upper(rule.protocol),
                    mapping::port(range)
                ));
                continue;
            }
            for port in range.first..=range.last {
                ports
                    .entry((rule.protocol, port))
                    .or_default()
                    .extend(rule.peers.v4.iter().copied());
            }
        }
        let mut openings = Vec::new();
        for ((protocol, port), nets) in ports {
            let addresses: Vec<String> = Ipv4Net::aggregate(&nets)
                .into_iter()
                .map(|n| mapping::address(n.into()))
                .collect();
            let addresses = addresses.join(",");
            if addresses.len() > MAX_REMOTE_CHARS {
                skipped.push(format!(
                    "{} {port}: more peer addresses than one command line holds",
                    protocol_upper(protocol)
                ));
                continue;
            }
            openings.push(Opening {
                name: format!("{NAME_PREFIX}{}:{}:{port}", host.host, protocol.as_str()),
                protocol: protocol_upper(protocol),
                port,
                addresses,
            });
        }
        let mut notes = Vec::new();
        let mut note = |what: &str, flows: &[String]| {
            if !flows.is_empty() {
                notes.push(format!("{what}: {}", flows.join(", ")));
            }
        };
        note(
            "Not enforced, this firewall does not filter outbound traffic",
            &outbound,
        );
        note(
            "Any source port accepted, this firewall has no remote-port filter",
            &source_filtered,
        );
        note(
            "IPv6 peers left out, port-opening scopes are IPv4 only",
            &v6_dropped,
        );
        note("Not opened, IPv6 peers only", &v6_only);
        let complete = skipped.is_empty();
        Self {
            h: Header::new(host),
            done: if complete {
                vec![openings.len()]
            } else {
                Vec::new()
            },
            exit_code: if complete { 0 } else { 1 },
            openings,
            notes,
            skipped,
        }
    }
}

fn push_unique(list: &mut Vec<String>, flow: &str) {
    if !list.iter().any(|f| f == flow) {
        list.push(flow.to_owned());
    }
}

fn protocol_upper(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}
