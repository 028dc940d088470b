//! The backend table: every backend abrfw has, once. The CLI (`compile`, `check`, `inventory`,
//! the `--backend` values, `diff --format unified`), the fuzz target, the benchmark and the
//! test validators read [`BACKENDS`]; nothing else names a backend or the files it writes.
//!
//! Every backend crate implements one contract (see [`abrfw_core::render`]):
//!
//! ```text
//! pub const NAME: &str;
//! pub fn render(host: &HostRules, opts: &Options) -> Result<Files, Error>;
//! pub fn render_gateway(gw: &GatewayRules, opts: &Options) -> Result<Option<Files>, Error>;
//! ```
//!
//! A new backend is a crate and a row here (checklist: `docs/backends/adding.md`).
#![deny(missing_docs)]

use abrfw_core::verify::{LiveError, State};
use abrfw_core::{Files, GatewayRules, HostRules, Os, PeerClasses};
use anyhow::Result;

mod choice;
pub use choice::{Choice, choose};

/// One backend: what it is called, what it writes, whom it serves, and how it renders.
#[derive(Debug)]
pub struct Backend {
    /// The `--backend` value and the name `check` and `inventory` print.
    pub name: &'static str,
    /// One line for `--help`: what the files are for.
    pub help: &'static str,
    /// Every file name the backend may write under `DIR/<host>/`, in load order. A render returns
    /// a subsequence of it (iptables writes `ipset.rules` only when some peer list is long).
    pub files: &'static [&'static str],
    /// The OSes whose hosts it renders.
    pub os: &'static [Os],
    /// Whether `compile --out-dir` writes it for a host or gateway whose topology chooses no
    /// backends (see [`choose`]). firewalld and ufw are not: a Linux host runs one firewall
    /// manager, so those are written where `backends` or `linux_backends` names them.
    pub default: bool,
    /// Whether it renders a `[[gateway]]`'s forward rules (its `render_gateway` returns `Some`
    /// for a gateway whose OS it serves).
    pub gateway: bool,
    /// The longest name (host, gateway, zone) the backend carries whole in its comments or
    /// labels, in bytes; a test checks that core's name limit fits.
    pub max_name_bytes: usize,
    /// The crate's `render` with default options.
    pub render: fn(&HostRules) -> Result<Files>,
    /// The crate's `render_gateway` with default options.
    pub render_gateway: fn(&GatewayRules) -> Result<Option<Files>>,
    /// For a backend that lists a rule's peer hosts by name: its rendering for a class of the
    /// class layout, where a class name stands for its members. `None`: `render` serves both
    /// layouts.
    pub render_in_classes: Option<fn(&HostRules, &PeerClasses) -> Result<Files>>,
}

impl Backend {
    /// Whether the backend produces rules for a host running `os`.
    pub fn serves(&self, os: Os) -> bool {
        self.os.contains(&os)
    }

    /// Whether the backend writes forward rules for a gateway running `os`.
    pub fn serves_gateway(&self, os: Os) -> bool {
        self.gateway && self.serves(os)
    }

    /// The OS names it serves, for messages.
    pub fn served(&self) -> Vec<&'static str> {
        Os::ALL
            .into_iter()
            .filter(|&os| self.serves(os))
            .map(Os::as_str)
            .collect()
    }

    /// Renders one host, or nothing when the backend does not serve its OS.
    pub fn render_host(&self, host: &HostRules) -> Result<Files> {
        if !self.serves(host.os) {
            return Ok(Files::new());
        }
        (self.render)(host)
    }

    /// Renders a class of the class layout (a member's rules under the class's name), or
    /// nothing when the backend does not serve its OS.
    pub fn render_class(&self, host: &HostRules, classes: &PeerClasses) -> Result<Files> {
        match self.render_in_classes {
            Some(render) if self.serves(host.os) => render(host, classes),
            _ => self.render_host(host),
        }
    }

    /// Renders a gateway's forward rules, or `None` when the backend has no gateway mode or
    /// does not serve the gateway's OS.
    pub fn render_gw(&self, gw: &GatewayRules) -> Result<Option<Files>> {
        if !self.serves_gateway(gw.os) {
            return Ok(None);
        }
        (self.render_gateway)(gw)
    }
}

const LINUX: &[Os] = &[Os::Linux, Os::Appliance];
const WINDOWS: &[Os] = &[Os::Windows, Os::WindowsLegacy];
/// firewalld and ufw run on Linux hosts; the appliance manages its own firewall.
const LINUX_HOST: &[Os] = &[Os::Linux];
const BSD: &[Os] = &[Os::Freebsd, Os::Openbsd, Os::Macos];

/// Every backend, in the order `compile --out-dir` writes and `check` lists them.
pub static BACKENDS: [Backend; 8] = [
    Backend {
        name: abrfw_nftables::NAME,
        help: "nftables.nft: a script for `nft -f`, host or gateway rules (Linux, appliance)",
        files: &[abrfw_nftables::FILE_NAME],
        default: true,
        os: LINUX,
        gateway: true,
        max_name_bytes: abrfw_nftables::MAX_COMMENT_BYTES,
        render: |h| Ok(abrfw_nftables::render(h, &Default::default())?),
        render_gateway: |g| Ok(abrfw_nftables::render_gateway(g, &Default::default())?),
        render_in_classes: None,
    },
    Backend {
        name: abrfw_iptables::NAME,
        help: "iptables.rules and ip6tables.rules for iptables-restore / ip6tables-restore, plus \
               ipset.rules when a peer list is long; host or gateway rules (Linux, appliance)",
        files: &[
            abrfw_iptables::IPSET_FILE_NAME,
            abrfw_iptables::IPTABLES_FILE_NAME,
            abrfw_iptables::IP6TABLES_FILE_NAME,
        ],
        default: true,
        os: LINUX,
        gateway: true,
        max_name_bytes: abrfw_iptables::MAX_COMMENT_BYTES,
        render: |h| Ok(abrfw_iptables::render(h, &Default::default())?),
        render_gateway: |g| Ok(abrfw_iptables::render_gateway(g, &Default::default())?),
        render_in_classes: None,
    },
    Backend {
        name: abrfw_windows::netsh::NAME,
        help: "netsh.cmd: `netsh advfirewall firewall` commands, or `netsh firewall` port \
               openings on windows-legacy (Windows, windows-legacy)",
        files: &[abrfw_windows::netsh::FILE_NAME],
        default: true,
        os: WINDOWS,
        gateway: false,
        max_name_bytes: abrfw_windows::netsh::MAX_LINE,
        render: |h| Ok(abrfw_windows::netsh::render(h, &Default::default())?),
        render_gateway: |g| {
            Ok(abrfw_windows::netsh::render_gateway(
                g,
                &Default::default(),
            )?)
        },
        render_in_classes: None,
    },
    Backend {
        name: abrfw_windows::powershell::NAME,
        help: "firewall.ps1: PowerShell with New-NetFirewallRule; on windows-legacy it runs \
               netsh.cmd (Windows, windows-legacy)",
        files: &[abrfw_windows::powershell::FILE_NAME],
        default: true,
        os: WINDOWS,
        gateway: false,
        max_name_bytes: abrfw_windows::netsh::MAX_LINE,
        render: |h| Ok(abrfw_windows::powershell::render(h, &Default::default())?),
        render_gateway: |g| {
            Ok(abrfw_windows::powershell::render_gateway(
                g,
                &Default::default(),
            )?)
        },
        render_in_classes: None,
    },
    Backend {
        name: abrfw_pf::NAME,
        help: "pf.conf: an anchor for `pfctl -a abrfw -f`, host or gateway rules (FreeBSD, \
               OpenBSD, macOS)",
        files: &[abrfw_pf::FILE_NAME],
        default: true,
        os: BSD,
        gateway: true,
        max_name_bytes: abrfw_pf::MAX_LABEL_BYTES,
        render: |h| Ok(abrfw_pf::render(h, &Default::default())?),
        render_gateway: |g| Ok(abrfw_pf::render_gateway(g, &Default::default())?),
        render_in_classes: None,
    },
    Backend {
        name: abrfw_json::NAME,
        help: "rules.json: the host's rules as versioned data (any host with an OS; no gateway \
               mode); schema in docs/rules.schema.json",
        files: &[abrfw_json::FILE_NAME],
        default: true,
        os: &Os::ALL,
        gateway: false,
        max_name_bytes: usize::MAX,
        render: |h| Ok(abrfw_json::render(h, &Default::default())?),
        render_gateway: |g| Ok(abrfw_json::render_gateway(g, &Default::default())?),
        render_in_classes: Some(|h, c| {
            Ok(abrfw_json::render_in_classes(h, c, &Default::default())?)
        }),
    },
    Backend {
        name: abrfw_firewalld::NAME,
        help: "firewalld.sh: installs policies abrfw-in/abrfw-out and their ipsets into \
               /etc/firewalld, checks and reloads (Linux, firewalld 0.9 or later; host rules only)",
        files: &[abrfw_firewalld::FILE_NAME],
        default: false,
        os: LINUX_HOST,
        gateway: false,
        max_name_bytes: usize::MAX,
        render: |h| Ok(abrfw_firewalld::render(h, &Default::default())?),
        render_gateway: |g| Ok(abrfw_firewalld::render_gateway(g, &Default::default())?),
        render_in_classes: None,
    },
    Backend {
        name: abrfw_ufw::NAME,
        help: "ufw.sh: ufw commands whose rules carry an abrfw comment, replacing only earlier \
               abrfw rules (Linux; host rules only)",
        files: &[abrfw_ufw::FILE_NAME],
        default: false,
        os: LINUX_HOST,
        gateway: false,
        max_name_bytes: usize::MAX,
        render: |h| Ok(abrfw_ufw::render(h, &Default::default())?),
        render_gateway: |g| Ok(abrfw_ufw::render_gateway(g, &Default::default())?),
        render_in_classes: None,
    },
];

/// A file abrfw writes into `DIR/<host>/` beside the backends' files, made from their names
/// (not from the rules): `apply.sh`, which loads whichever of them it can with a timed rollback.
#[derive(Debug)]
pub struct Extra {
    /// The file name under `DIR/<host>/`.
    pub file: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// Renders it for one directory; `None` when it has nothing to do there.
    pub render: fn(&ExtraFor<'_>) -> Result<Option<String>>,
}

/// What an [`Extra`] knows of the directory it is written into.
#[derive(Debug, Clone, Copy)]
pub struct ExtraFor<'a> {
    /// The host's or gateway's name (its directory).
    pub name: &'a str,
    /// Whether it is a `[[gateway]]`.
    pub gateway: bool,
    /// Whether its rules are a fragment (`policy = "fragment"`), which the site's own firewall
    /// configuration includes rather than loads.
    pub fragment: bool,
    /// The backend files written into the directory.
    pub files: &'a [&'a str],
}

/// Every extra file, in the order they are written after the backends' files.
pub static EXTRAS: [Extra; 1] = [Extra {
    file: abrfw_rollout::FILE_NAME,
    help: "apply.sh: loads the host's nftables, iptables or pf files with a timed rollback \
           (confirm, rollback, persist; docs/rollout.md), for every host and gateway that has them \
           and whose policy is not \"fragment\"",
    render: |d| {
        if d.fragment {
            return Ok(None);
        }
        Ok(abrfw_rollout::render(d.name, d.gateway, d.files)?)
    },
}];

/// The extra files for one directory.
pub fn render_extras(dir: &ExtraFor<'_>) -> Result<Files> {
    let mut out = Files::new();
    for e in &EXTRAS {
        if let Some(text) = (e.render)(dir)? {
            out.push((e.file, text));
        }
    }
    Ok(out)
}

/// The backend called `name`.
pub fn find(name: &str) -> Option<&'static Backend> {
    BACKENDS.iter().find(|b| b.name == name)
}

/// The backends written by default for a host running `os`, in table order.
pub fn for_host(os: Os) -> impl Iterator<Item = &'static Backend> {
    BACKENDS.iter().filter(move |b| b.default && b.serves(os))
}

/// The backends `compile --out-dir` writes when `--backend` names none, in table order.
pub fn defaults() -> impl Iterator<Item = &'static Backend> {
    BACKENDS.iter().filter(|b| b.default)
}

/// The backends that write forward rules for a gateway running `os`, in table order.
pub fn for_gateway(os: Os) -> impl Iterator<Item = &'static Backend> {
    BACKENDS.iter().filter(move |b| b.serves_gateway(os))
}

/// Every file name any backend writes, in table order, then the extra files.
pub fn all_files() -> impl Iterator<Item = &'static str> {
    BACKENDS
        .iter()
        .flat_map(|b| b.files.iter().copied())
        .chain(EXTRAS.iter().map(|e| e.file))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy picks the template (`X` for drop, `X-fragment` for fragment) in every
    /// backend; no template tests the policy itself.
    #[test]
    fn no_template_decides_on_the_policy() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        let mut seen = 0;
        for dir in std::fs::read_dir(&root).unwrap() {
            for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                seen += 1;
                for tag in text.split("{%").skip(1) {
                    let tag = tag.split("%}").next().unwrap_or("");
                    let words: Vec<&str> = tag.trim_start_matches('-').split_whitespace().collect();
                    if words.first() == Some(&"if") {
                        assert!(
                            !tag.contains("drop") && !tag.contains("policy"),
                            "{}: {{%{tag}%}} decides on the policy; pick a template instead",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(seen > 10, "templates not found under {}", root.display());
    }

    #[test]
    fn names_and_files_are_unique() {
        let mut names: Vec<&str> = BACKENDS.iter().map(|b| b.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BACKENDS.len());
        let mut files: Vec<&str> = all_files().collect();
        let n = files.len();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), n, "two backends write the same file name");
    }

    #[test]
    fn every_gateway_os_has_a_gateway_backend() {
        for os in abrfw_core::GATEWAY_OS {
            assert!(
                for_gateway(os).next().is_some(),
                "no gateway backend for {os}"
            );
        }
        // And a gateway backend serves only OSes a gateway may run, or hosts' OSes.
        for b in BACKENDS.iter().filter(|b| b.gateway) {
            assert!(b.os.iter().any(|os| abrfw_core::GATEWAY_OS.contains(os)));
        }
    }

    #[test]
    fn core_name_limit_fits_every_backend() {
        for b in &BACKENDS {
            assert!(
                abrfw_core::topology::MAX_NAME_LEN <= b.max_name_bytes,
                "{}: names up to {} bytes do not fit its {}",
                b.name,
                abrfw_core::topology::MAX_NAME_LEN,
                b.max_name_bytes
            );
        }
    }

    #[test]
    fn every_backend_serves_some_os() {
        for b in &BACKENDS {
            assert!(!b.os.is_empty(), "{}", b.name);
        }
    }
}

/// One backend `abrfw verify` can check a live firewall against: how the admin collects the
/// state, which file of a `--tree` holds it, and the crate's parse and expected functions.
#[derive(Debug)]
pub struct Verifier {
    /// The `verify --backend` value.
    pub name: &'static str,
    /// The file `verify --tree DIR` reads for a host: `DIR/<host>/<live_file>`.
    pub live_file: &'static str,
    /// The command (or one-liner) that prints the state, for docs and hints.
    pub command: &'static str,
    /// The OSes whose hosts it checks.
    pub os: &'static [Os],
    /// Reads the collected state.
    pub parse: fn(&str) -> Result<State, LiveError>,
    /// The state the backend's files load for a host.
    pub expected: fn(&HostRules) -> Result<State>,
}

impl Verifier {
    /// Whether it checks hosts running `os`.
    pub fn serves(&self, os: Os) -> bool {
        self.os.contains(&os)
    }
}

/// Every backend `abrfw verify` reads, in the order `--tree` looks for their files.
pub static VERIFIERS: [Verifier; 4] = [
    Verifier {
        name: abrfw_nftables::NAME,
        live_file: "nftables.live.json",
        command: abrfw_nftables::live::LIVE_COMMAND,
        os: LINUX,
        parse: abrfw_nftables::live::parse_live,
        expected: |h| Ok(abrfw_nftables::live::expected(h)),
    },
    Verifier {
        name: abrfw_iptables::NAME,
        live_file: "iptables.live",
        command: abrfw_iptables::live::LIVE_COMMAND,
        os: LINUX,
        parse: abrfw_iptables::live::parse_live,
        expected: |h| Ok(abrfw_iptables::live::expected(h)?),
    },
    Verifier {
        name: abrfw_windows::powershell::NAME,
        live_file: abrfw_windows::live::LIVE_FILE,
        command: abrfw_windows::live::LIVE_COMMAND,
        // Not windows-legacy: `netsh firewall` has no export (see [`NOT_VERIFIED`]).
        os: &[Os::Windows],
        parse: abrfw_windows::live::parse_live,
        expected: |h| Ok(abrfw_windows::live::expected(h)),
    },
    Verifier {
        name: abrfw_pf::NAME,
        live_file: abrfw_pf::live::LIVE_FILE,
        command: abrfw_pf::live::LIVE_COMMAND,
        os: BSD,
        parse: abrfw_pf::live::parse_live,
        expected: |h| Ok(abrfw_pf::live::expected(h)),
    },
];

/// OSes no verifier reads, with the reason `verify` gives.
pub static NOT_VERIFIED: [(Os, &str); 1] = [(
    Os::WindowsLegacy,
    "\"netsh firewall\" (Windows XP, Server 2003) cannot export its rules, and firewall.ps1 \
     -Export needs the NetSecurity module (Windows 8 / Server 2012 or later); check the port \
     openings by hand with \"netsh firewall show portopening\"",
)];

/// Why `verify` cannot read the live state of hosts running `os`, when some reason is known.
pub fn not_verified(os: Os) -> Option<&'static str> {
    NOT_VERIFIED
        .iter()
        .find(|(o, _)| *o == os)
        .map(|(_, reason)| *reason)
}

/// The verifier named `name`.
pub fn verifier(name: &str) -> Option<&'static Verifier> {
    VERIFIERS.iter().find(|v| v.name == name)
}
