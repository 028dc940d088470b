//! ufw backend: renders one host's [`HostRules`] as `ufw.sh`, a script of `ufw` commands whose
//! rules all carry an `abrfw GENERATION FLOW` comment.
//!
//! Why commands rather than a `user.rules` file: `user.rules` is one file that holds the
//! administrator's own rules too, and `before.rules` is the administrator's to edit; a rule
//! abrfw adds through `ufw` is one ufw knows, lists in `ufw status` and can delete, next to the
//! site's own rules and without touching them.
//!
//! Replacement is idempotent and never opens a gap: the script first adds every rule of this
//! rule set with the comment `abrfw <generation> <flow>`, where the generation is a digest of
//! the rule set (ufw gives an existing rule the new comment), then deletes the rules whose
//! abrfw comment names another generation. Rules without an abrfw comment are never deleted.
//! `policy = "drop"` then sets ufw's defaults to deny incoming and outgoing and enables ufw;
//! `"fragment"` leaves defaults and the enabled state alone.
//!
//! ufw can express every part of abrfw's rules (peer, port, the initiator's source-port range,
//! both directions); it has no address sets, so every peer network is a rule of its own.
#![deny(missing_docs)]

mod escape;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use abrfw_core::ir::address_text;
use abrfw_core::{Direction, Family, Files, GatewayRules, HostRules, Policy, PortRange};
use askama::Template;
use sha2::{Digest, Sha256};

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "ufw";
/// The script written for each host.
pub const FILE_NAME: &str = "ufw.sh";

/// Rendering options (none yet beyond the IR's own policy).
#[derive(Debug, Clone, Default)]
pub struct Options {}

/// Why a rule set could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template engine failed.
    #[error("ufw template: {0}")]
    Template(#[from] askama::Error),
}

/// Renders a host's rules as `ufw.sh`, as `(file name, contents)`.
pub fn render(host: &HostRules, _opts: &Options) -> Result<Files, Error> {
    let mut seen = BTreeSet::new();
    let mut rules = Vec::new();
    let mut ipv6 = false;
    for rule in &host.rules {
        for family in Family::ALL {
            for net in rule.peers.of(family) {
                let peer = address_text(net);
                let sport = rule
                    .source_ports
                    .map(|p| format!(" port {}", port_range(p)))
                    .unwrap_or_default();
                let dport = port_range(rule.destination_port);
                let proto = rule.protocol.as_str();
                let command = match rule.direction {
                    Direction::Inbound => {
                        format!("allow proto {proto} from {peer}{sport} to any port {dport}")
                    }
                    Direction::Outbound => {
                        format!("allow out proto {proto} from any{sport} to {peer} port {dport}")
                    }
                };
                // Two flows with the same match are one ufw rule; the first names it.
                if seen.insert(command.clone()) {
                    ipv6 |= family == Family::V6;
                    rules.push(RuleView {
                        purpose: format!("{}: {}", rule.flow, rule.purpose),
                        command,
                        flow: escape::token(&rule.flow),
                    });
                }
            }
        }
    }
    let drop = host.policy == Policy::Drop;
    // outbound = "accept": ufw's default for outgoing is allow, so only inbound is filtered.
    let outgoing = if drop && !host.drops_outbound() {
        "allow"
    } else {
        "deny"
    };
    let mut digest = Sha256::new();
    digest.update(host.policy.as_str());
    if outgoing == "allow" {
        digest.update(b" outbound accept");
    }
    for r in &rules {
        digest.update(b"\n");
        digest.update(&r.command);
    }
    let mut generation = String::new();
    for byte in &digest.finalize()[..6] {
        let _ = write!(generation, "{byte:02x}");
    }
    let view = View {
        header: host.header(),
        policy: host.policy.as_str(),
        outgoing,
        log: drop && host.log.drops(),
        ipv6,
        generation,
        rules,
    };
    // The policy picks the template, as in every backend: ufw-fragment.sh is ufw.sh without
    // the part that sets ufw's defaults.
    let mut text = match host.policy {
        Policy::Drop => ScriptTemplate { v: &view }.render()?,
        Policy::Fragment => FragmentTemplate { v: &view }.render()?,
    };
    text.push('\n');
    Ok(vec![(FILE_NAME, text)])
}

/// Gateways get no ufw rules: abrfw writes forwarding rules for Linux gateways with the
/// nftables and iptables backends.
pub fn render_gateway(_gw: &GatewayRules, _opts: &Options) -> Result<Option<Files>, Error> {
    Ok(None)
}

#[derive(Template)]
#[template(path = "ufw.sh")]
struct ScriptTemplate<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "ufw-fragment.sh")]
struct FragmentTemplate<'a> {
    v: &'a View,
}

/// Everything the template prints, decided here.
struct View {
    header: String,
    policy: &'static str,
    /// `ufw default ... outgoing` under policy drop: `deny`, or `allow` for `outbound = "accept"`.
    outgoing: &'static str,
    /// `ufw logging low` (`log = "drops"` with policy drop).
    log: bool,
    ipv6: bool,
    generation: String,
    rules: Vec<RuleView>,
}

/// One `ufw` command: the rule without its comment, the flow token for the comment and the
/// purpose for the comment line above it.
struct RuleView {
    purpose: String,
    command: String,
    flow: String,
}

/// `9876` or `first:last`.
fn port_range(p: PortRange) -> String {
    p.joined(':')
}
