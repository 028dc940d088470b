//! Which backend serves which host, and rendering through it. Only the CLI knows every backend.

use abrfw_core::{GatewayRules, HostRules, Os};
use anyhow::Result;

use crate::args::Backend;

/// Backends that write files in `compile --out-dir`, in order.
pub const WRITTEN: [Backend; 6] = [
    Backend::Nftables,
    Backend::Iptables,
    Backend::Netsh,
    Backend::Powershell,
    Backend::Pf,
    Backend::Json,
];

impl Backend {
    /// The `--backend` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nftables => abrfw_nftables::NAME,
            Backend::Iptables => abrfw_iptables::NAME,
            Backend::Netsh => abrfw_windows::netsh::NAME,
            Backend::Powershell => abrfw_windows::powershell::NAME,
            Backend::Pf => abrfw_pf::NAME,
            Backend::Json => abrfw_json::NAME,
            Backend::Firewalld => abrfw_firewalld::NAME,
            Backend::Ufw => abrfw_ufw::NAME,
            Backend::Ir => "ir",
        }
    }

    /// Whether the backend produces rules for a host running `os`.
    pub fn serves(self, os: Os) -> bool {
        match self {
            Backend::Nftables => os.is_linux(),
            Backend::Iptables => os.is_linux(),
            // The appliance is Linux-based but manages its own firewall.
            Backend::Firewalld | Backend::Ufw => os == Os::Linux,
            Backend::Netsh | Backend::Powershell => os.is_windows(),
            Backend::Pf => matches!(os, Os::Freebsd | Os::Openbsd | Os::Macos),
            Backend::Json => true,
            Backend::Ir => true,
        }
    }

    /// The systems the backend serves, for error messages.
    pub fn served(self) -> Vec<&'static str> {
        Os::ALL
            .into_iter()
            .filter(|&os| self.serves(os))
            .map(Os::as_str)
            .collect()
    }

    /// Renders one host into the files the backend writes under DIR/<host>/, as
    /// `(file name, contents)` in a fixed order.
    pub fn render(self, host: &HostRules) -> Result<Vec<(&'static str, String)>> {
        Ok(match self {
            Backend::Nftables => vec![(
                abrfw_nftables::FILE_NAME,
                abrfw_nftables::render(host, &abrfw_nftables::Options::default())?,
            )],
            Backend::Iptables => {
                abrfw_iptables::render(host, &abrfw_iptables::Options::default())?.into_vec()
            }
            Backend::Netsh => vec![(
                abrfw_windows::netsh::FILE_NAME,
                abrfw_windows::netsh::render(host, &abrfw_windows::Options::default())?,
            )],
            Backend::Powershell => vec![(
                abrfw_windows::powershell::FILE_NAME,
                abrfw_windows::powershell::render(host, &abrfw_windows::Options::default())?,
            )],
            Backend::Pf => vec![(
                abrfw_pf::FILE_NAME,
                abrfw_pf::render(host, &abrfw_pf::Options::default())?,
            )],
            Backend::Json => vec![(
                abrfw_json::FILE_NAME,
                abrfw_json::render(host, &abrfw_json::Options::default())?,
            )],
            Backend::Firewalld => {
                abrfw_firewalld::render(host, &abrfw_firewalld::Options::default())?
            }
            Backend::Ufw => abrfw_ufw::render(host, &abrfw_ufw::Options::default())?,
            Backend::Ir => vec![("ir.json", serde_json::to_string_pretty(host)? + "\n")],
        })
    }

    /// Renders a gateway's forward rules, or `None` when the backend has no gateway mode or
    /// does not serve the gateway's OS.
    pub fn render_gateway(self, gw: &GatewayRules) -> Result<Option<Vec<(&'static str, String)>>> {
        if !self.serves(gw.os) {
            return Ok(None);
        }
        Ok(Some(match self {
            Backend::Nftables => vec![(
                abrfw_nftables::FILE_NAME,
                abrfw_nftables::render_gateway(gw, &abrfw_nftables::Options::default())?,
            )],
            Backend::Iptables => {
                abrfw_iptables::render_gateway(gw, &abrfw_iptables::Options::default())?.into_vec()
            }
            // Windows hosts are not gateways abrfw writes forward rules for.
            Backend::Netsh | Backend::Powershell => return Ok(None),
            // rules.json describes a host's own rules; gateways' forward rules have no JSON shape yet.
            Backend::Json => return Ok(None),
            Backend::Pf => vec![(
                abrfw_pf::FILE_NAME,
                abrfw_pf::render_gateway(gw, &abrfw_pf::Options::default())?,
            )],
            Backend::Firewalld => {
                match abrfw_firewalld::render_gateway(gw, &abrfw_firewalld::Options::default())? {
                    Some(files) => files,
                    None => return Ok(None),
                }
            }
            Backend::Ufw => match abrfw_ufw::render_gateway(gw, &abrfw_ufw::Options::default())? {
                Some(files) => files,
                None => return Ok(None),
            },
            Backend::Ir => vec![("ir.json", serde_json::to_string_pretty(gw)? + "\n")],
        }))
    }
}
