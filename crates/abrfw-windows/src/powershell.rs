//! `firewall.ps1`: PowerShell with the NetSecurity cmdlets (`New-NetFirewallRule`, Windows 8 /
//! Server 2012 and later). For `windows-legacy` hosts the script runs `netsh.cmd` from its own
//! directory, since XP and Server 2003 have no NetSecurity module.

use abrfw_core::{Direction, Files, GatewayRules, HostRules, Os, Policy, Protocol};
use askama::Template;

use crate::mapping::{
    self, GROUP, NAME_PREFIX, POLICY_FILE, PROFILES_FILE, RETIRED_PREFIX, ROLLBACK_TASK, STATE_DIR,
};
use crate::{Error, Options, netsh};

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "powershell";
/// File written for each Windows host.
pub const FILE_NAME: &str = "firewall.ps1";

/// Renders `host` as a PowerShell script: UTF-8 with a byte-order mark and CRLF line ends.
///
/// The mark matters: Windows PowerShell 5.1 reads a file without one in the ANSI code page,
/// where the UTF-8 bytes 0x91..0x94 of an ordinary letter (`ё` is D1 91) read as the
/// quotation marks U+2018..U+201C and could end a single-quoted string.
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
        // The policy picks the template, as in every backend: the fragment form is the same
        // script without the steps that turn the firewall on and set its default policy.
        Os::Windows => {
            let v = &View::new(host, opts);
            match host.policy {
                Policy::Drop => NetSecurityTemplate { v }.render()?,
                Policy::Fragment => NetSecurityFragmentTemplate { v }.render()?,
            }
        }
        Os::WindowsLegacy => LegacyTemplate {
            v: &LegacyView {
                host: host.host.clone(),
                os: host.os.to_string(),
                roles: host.roles_text(),
                release: host.release.to_string(),
                netsh_file: netsh::FILE_NAME,
            },
        }
        .render()?,
        other => return Err(Error::NotWindows(other)),
    };
    Ok(crate::crlf_lines("\u{feff}", &text))
}

#[derive(Template)]
#[template(path = "firewall.ps1")]
struct NetSecurityTemplate<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "firewall-fragment.ps1")]
struct NetSecurityFragmentTemplate<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "firewall-legacy.ps1")]
struct LegacyTemplate<'a> {
    v: &'a LegacyView,
}

struct View {
    host: String,
    os: String,
    roles: String,
    release: String,
    /// `-DefaultOutboundAction`: `Allow` for `outbound = "accept"`, else `Block`.
    outbound: &'static str,
    /// What the default policy blocks, for the step comment.
    blocks: &'static str,
    /// Log dropped packets to pfirewall.log (`log = "drops"` with policy drop).
    log: bool,
    /// `abrfw:*`, `abrfw-retired*`, `abrfw-retired:*` and `abrfw-retired:` as the script
    /// matches and builds names.
    live_pattern: String,
    retired_display_pattern: String,
    retired_pattern: String,
    retired_prefix: String,
    group: &'static str,
    /// [`STATE_DIR`], [`POLICY_FILE`], [`PROFILES_FILE`] and [`ROLLBACK_TASK`].
    state_dir: &'static str,
    policy_file: &'static str,
    profiles_file: &'static str,
    task: &'static str,
    rules: Vec<RuleView>,
}

/// One `New-NetFirewallRule` call, every field ready to print inside `'...'`.
struct RuleView {
    name: String,
    description: String,
    direction: &'static str,
    protocol: &'static str,
    local_port: String,
    remote_port: String,
    remote: Vec<String>,
}

impl View {
    fn new(host: &HostRules, opts: &Options) -> Self {
        let rules = mapping::rules(host, opts, None)
            .into_iter()
            .map(|r| RuleView {
                name: r.name,
                description: r.description,
                direction: match r.direction {
                    Direction::Inbound => "Inbound",
                    Direction::Outbound => "Outbound",
                },
                protocol: match r.protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                },
                local_port: r.local_port.map_or_else(|| "Any".to_owned(), mapping::port),
                remote_port: r
                    .remote_port
                    .map_or_else(|| "Any".to_owned(), mapping::port),
                remote: r.remote,
            })
            .collect();
        Self {
            host: host.host.clone(),
            os: host.os.to_string(),
            roles: host.roles_text(),
            release: host.release.to_string(),
            outbound: if host.drops_outbound() {
                "Block"
            } else {
                "Allow"
            },
            blocks: if host.drops_outbound() {
                "inbound and outbound"
            } else {
                "inbound; outbound is allowed (outbound = \"accept\")"
            },
            log: host.policy == Policy::Drop && host.log.drops(),
            live_pattern: format!("{NAME_PREFIX}*"),
            retired_display_pattern: format!("{RETIRED_PREFIX}*"),
            retired_pattern: format!("{RETIRED_PREFIX}:*"),
            retired_prefix: format!("{RETIRED_PREFIX}:"),
            group: GROUP,
            state_dir: STATE_DIR,
            policy_file: POLICY_FILE,
            profiles_file: PROFILES_FILE,
            task: ROLLBACK_TASK,
            rules,
        }
    }
}

struct LegacyView {
    host: String,
    os: String,
    roles: String,
    release: String,
    netsh_file: &'static str,
}
