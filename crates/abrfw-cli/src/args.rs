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
    /// ip6tables.rules for Linux and appliance hosts), or prints one host's rule set with --host.
    Compile(CompileArgs),
    /// Validate a topology and summarise what it compiles to.
    Check(SiteArgs),
    /// Print the flow catalog of a release.
    Flows(FlowsArgs),
    /// List the built-in releases (and one loaded with --catalog).
    Releases(ReleasesArgs),
    /// Compare a site under two releases, or two versions of a site; exit 1 when they differ.
    ///
    /// `abrfw diff SITE.toml --from abr-11.5 --to ab-12.5` compiles one site under two
    /// releases; `abrfw diff OLD.toml NEW.toml` compares two versions of a site. Prints, per
    /// host, the rules added, removed and changed; exit status 0 when equal, 1 when different,
    /// 2 on error, like diff(1).
    Diff(DiffArgs),
    /// Print the built-in example topology (a starting point for your own site).
    Example,
    /// Print a shell completion script (e.g. `abrfw completions bash > /etc/bash_completion.d/abrfw`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `abrfw man > abrfw.1`.
    Man,
}

#[derive(Debug, clap::Args)]
pub struct SiteArgs {
    /// The topology file (TOML); see docs/topology.md.
    #[arg(required_unless_present = "example", value_name = "SITE.toml")]
    pub site: Option<PathBuf>,
    /// Use the built-in example site instead of a file.
    #[arg(long, conflicts_with = "site")]
    pub example: bool,
    /// Compile under this release instead of the topology's `release` (see `abrfw releases`).
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
    /// Load a release catalog of your own (TOML, see docs/releases.md) and compile under it,
    /// unless --release names another release.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
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
    /// Write nothing; exit 1 if any file in --out-dir differs from what would be written.
    #[arg(long, requires = "out_dir")]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct FlowsArgs {
    /// Release whose catalog to print (default: abr-11.5).
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
    /// Print the difference between the catalogs of two releases instead (exit 1 when they
    /// differ), e.g. `--diff abr-11.5 ab-12.5`.
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"], conflicts_with = "release")]
    pub diff: Option<Vec<String>>,
    /// Load a release catalog of your own (TOML, see docs/releases.md) besides the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
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

#[derive(Debug, clap::Args)]
pub struct ReleasesArgs {
    /// Load a release catalog of your own (TOML, see docs/releases.md) and list it too.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReleasesFormat::Table)]
    pub format: ReleasesFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReleasesFormat {
    /// Aligned columns for a terminal.
    Table,
    /// JSON array of releases.
    Json,
    /// The releases side by side, flow by flow and role by role: the tables of docs/releases.md.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The site, or the old and the new version of it.
    #[arg(required = true, num_args = 1..=2, value_name = "SITE.toml")]
    pub sites: Vec<PathBuf>,
    /// Release of the old side (default: the release its topology names).
    #[arg(long, value_name = "ID")]
    pub from: Option<String>,
    /// Release of the new side (default: the release its topology names).
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
    /// Load a release catalog of your own (TOML, see docs/releases.md), to name in --from/--to.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// The backend whose rendered files --format unified compares.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// When to colour text and unified output (auto: on a terminal, unless NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Rules added, removed and changed per host, with flow ids and purposes.
    Text,
    /// The same as JSON (shape in docs/diff.md, `"version": 1`).
    Json,
    /// A unified diff of the files one backend (--backend) renders for each host.
    Unified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
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
    /// The compiled IR of the host as JSON (any host with an OS; printed with --host only).
    Ir,
}
