//! Command-line arguments. The `///` comments are the help text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Compile the documented network flows of Acronis Backup & Recovery into per-host firewall rules.
#[derive(Debug, Parser)]
#[command(name = "abrfw", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a site topology into firewall rule sets.
    ///
    /// Writes DIR/<host>/<file> for every host a backend serves (nftables.nft, iptables.rules and
    /// ip6tables.rules for Linux and appliance hosts, rules.json for every host) and the manifest
    /// DIR/abrfw.json, or prints one host's rule set with --host. A regeneration rewrites only
    /// changed files, removes the files of hosts that left the site and refuses to overwrite
    /// files abrfw did not write (docs/config-management.md).
    Compile(CompileArgs),
    /// Validate a topology and summarise what it compiles to.
    Check(SiteArgs),
    /// Print the flow catalog of a release.
    Flows(FlowsArgs),
    /// Print the built-in example topology (a starting point for your own site).
    Example,
    /// Print a shell completion script (e.g. `abrfw completions bash > /etc/bash_completion.d/abrfw`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `abrfw man > abrfw.1`.
    Man,
    /// Print an Ansible inventory of the site (JSON, which Ansible reads as YAML) for the playbook
    /// in contrib/ansible; see docs/config-management.md.
    Inventory(InventoryArgs),
}

#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The directory `compile --out-dir` writes, recorded as the `abrfw_tree` variable.
    #[arg(long, value_name = "DIR")]
    pub tree: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SiteArgs {
    /// The topology file (TOML); see docs/topology.md.
    #[arg(required_unless_present = "example", value_name = "SITE.toml")]
    pub site: Option<PathBuf>,
    /// Use the built-in example site instead of a file.
    #[arg(long, conflicts_with = "site")]
    pub example: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Directory to write DIR/<host>/<file> into (created if missing).
    #[arg(long, short, value_name = "DIR", required_unless_present = "host")]
    pub out_dir: Option<PathBuf>,
    /// Print the rule set of this one host to stdout instead of writing files.
    #[arg(long, value_name = "NAME", conflicts_with = "out_dir")]
    pub host: Option<String>,
    /// Only this backend (default: every backend that serves the host's OS).
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Write nothing; list the files a run would add, change or remove and exit 1, or exit 0
    /// when --out-dir is current.
    #[arg(long, requires = "out_dir")]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct FlowsArgs {
    /// Release whose catalog to print (default: the newest).
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FlowsFormat::Table)]
    pub format: FlowsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowsFormat {
    /// Aligned columns for a terminal.
    Table,
    /// JSON array of flows.
    Json,
    /// The Markdown page docs/flows.md is generated from.
    Markdown,
}

/// A rule-set format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Backend {
    /// nftables script for `nft -f` (Linux, appliance).
    Nftables,
    /// iptables.rules and ip6tables.rules for iptables-restore / ip6tables-restore, plus
    /// ipset.rules when a peer list is long (Linux, appliance). With --host, each file is printed
    /// after a `# ==> NAME <==` line.
    Iptables,
    /// netsh.cmd: a cmd script of `netsh advfirewall firewall` commands, or `netsh firewall`
    /// port openings on windows-legacy (Windows, windows-legacy).
    Netsh,
    /// firewall.ps1: PowerShell with New-NetFirewallRule; on windows-legacy it runs netsh.cmd
    /// (Windows, windows-legacy).
    Powershell,
    /// pf.conf: an anchor for `pfctl -a abrfw -f`, host or gateway rules (FreeBSD, OpenBSD,
    /// macOS).
    Pf,
    /// rules.json: the host's rules as versioned data (any host with an OS); schema in
    /// docs/rules.schema.json.
    Json,
    /// The compiled IR of the host as JSON (any host with an OS; printed with --host only).
    Ir,
}
