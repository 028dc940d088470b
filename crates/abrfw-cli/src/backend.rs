//! Which backend serves which host, and rendering through it. Only the CLI knows every backend.

use abrfw_core::{GatewayRules, HostRules, Os};
use anyhow::Result;

use crate::args::Backend;

/// Backends that write files in `compile --out-dir`, in order.
pub const WRITTEN: [Backend; 2] = [Backend::Nftables, Backend::Iptables];

impl Backend {
    /// The `--backend` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nftables => abrfw_nftables::NAME,
            Backend::Iptables => abrfw_iptables::NAME,
            Backend::Ir => "ir",
        }
    }

    /// Whether the backend produces rules for a host running `os`.
    pub fn serves(self, os: Os) -> bool {
        match self {
            Backend::Nftables => os.is_linux(),
            Backend::Iptables => os.is_linux(),
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
            Backend::Ir => vec![("ir.json", serde_json::to_string_pretty(gw)? + "\n")],
        }))
    }
}
