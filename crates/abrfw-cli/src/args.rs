//! Command-line arguments. The `///` comments are the help text.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};

/// Compile the documented network flows of Acronis Backup & Recovery into per-host firewall rules.
#[derive(Debug, Parser)]
#[command(name = "abrfw", version, after_help = TOP_EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a site topology into firewall rule sets.
    ///
    /// Writes DIR/<host>/<file> for every host and gateway: the files of each backend that serves
    /// its OS (listed under --backend, from the backend table) and the manifest DIR/abrfw.json, or prints one host's rule set with --host. A regeneration rewrites only
    /// changed files, removes the files of hosts that left the site and refuses to overwrite
    /// files abrfw did not write (docs/config-management.md).
    #[command(after_help = COMPILE_EXAMPLES)]
    Compile(CompileArgs),
    /// Validate a topology and summarise what it compiles to.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Print the flow catalog of a release.
    #[command(after_help = FLOWS_EXAMPLES)]
    Flows(FlowsArgs),
    /// List the built-in releases (and one loaded with --catalog).
    Releases(ReleasesArgs),
    /// List the site services an [[allow]] can name with `service = ...`, with their ports.
    ///
    /// `service = "dns"` (or a list) stands for the service's protocols and ports; each
    /// service says where its ports are documented.
    Services(ServicesArgs),
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
    /// Explain a host's rules: which flow, roles, phase and options made each apply, and why a
    /// port or peer has no rule.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Would this connection pass? Follow it hop by hop: the initiator's outbound rules, each
    /// gateway between the zones, the responder's inbound rules; exit 0 when allowed end to end,
    /// 1 when a hop drops it, 2 on error.
    #[command(after_help = QUERY_EXAMPLES)]
    Query(QueryArgs),
    /// Which firewall dropped it, and why? Read drop-log lines (kernel log or journal of
    /// nftables/iptables, Windows pfirewall.log, tcpdump text of pflog) and attribute each to a
    /// cause: a flow the topology does not enable, a wrong source port, a peer unknown to the
    /// site, an undocumented connection.
    #[command(after_help = LOGS_EXAMPLES)]
    Logs(LogsArgs),
    /// Draw the site's connection diagram: arrows from initiator to responder, grouped by zone.
    #[command(after_help = GRAPH_EXAMPLES)]
    Graph(GraphArgs),
    /// Print the JSON Schema of the topology file (docs/topology.schema.json), for editors.
    Schema,
    /// Print an Ansible inventory of the site (JSON, which Ansible reads as YAML) for the playbook
    /// in contrib/ansible; see docs/config-management.md.
    Inventory(InventoryArgs),
    /// Compare a host's live firewall with its compiled rules; exit 1 when they differ.
    ///
    /// Reads the state the backend's own tool prints (--live FILE for one host, or --tree DIR
    /// holding DIR/<host>/<file> for the whole site; docs/rollout.md gives the collection
    /// commands) and prints the rules that are missing, extra or changed, with their flow ids.
    /// Order, comments and set element order do not matter; addresses, ports, source ports,
    /// direction and policy do. Exit status 0 when equal, 1 when different, 2 on error.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
}

const VERIFY_EXAMPLES: &str = "Examples:
  nft -j list table inet abrfw > live.json                   on the host
  abrfw verify site.toml --host linux-agent --live live.json  on the admin machine
  abrfw verify site.toml --tree states                       states/<host>/<file> per host

Files --tree reads per host: nftables.live.json, iptables.live, pf.live, firewall.live.json
(docs/rollout.md, \"Verify\").";

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The host whose live state --live holds.
    #[arg(long, value_name = "NAME", requires = "live")]
    pub host: Option<String>,
    /// The host's live state, as the backend's collection command prints it.
    #[arg(long, value_name = "FILE", requires = "host", conflicts_with = "tree")]
    pub live: Option<PathBuf>,
    /// A directory of collected states: DIR/<host>/<backend file> for every host.
    #[arg(long, value_name = "DIR", required_unless_present = "live")]
    pub tree: Option<PathBuf>,
    /// The backend whose state --live holds (default: from the host's OS and the file).
    #[arg(long, value_parser = verifier_parser())]
    pub backend: Option<&'static abrfw_backends::Verifier>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

/// Parses `verify --backend NAME` against the verifier table.
fn verifier_parser() -> impl TypedValueParser<Value = &'static abrfw_backends::Verifier> {
    let names = abrfw_backends::VERIFIERS
        .iter()
        .map(|v| PossibleValue::new(v.name).help(v.command));
    PossibleValuesParser::new(names)
        .map(|name| abrfw_backends::verifier(&name).expect("clap accepts only the table's names"))
}

const TOP_EXAMPLES: &str = "Examples:
  abrfw example > site.toml                      start from the example site
  abrfw check site.toml                          validate it
  abrfw compile site.toml --out-dir out          write out/<host>/<file> for every host
  abrfw explain site.toml --host ams --port 445  why is 445 open on ams?
  abrfw graph site.toml --format svg > site.svg  draw the site

See docs/ in the source tree, or `abrfw COMMAND --help`.";

const COMPILE_EXAMPLES: &str = "Examples:
  abrfw compile site.toml --out-dir out                       every host, every backend
  abrfw compile site.toml --host linux-agent --backend nftables   one rule set to stdout
  abrfw compile site.toml --host ams --ir                     the compiled IR as JSON
  abrfw compile site.toml --out-dir out --check               exit 1 if out/ is stale";

const CHECK_EXAMPLES: &str = "Examples:
  abrfw check site.toml                 validate and list hosts, rules and backends
  abrfw check site.toml --encryption    also list flows that cross zones unencrypted";

const FLOWS_EXAMPLES: &str = "Examples:
  abrfw flows                           the catalog as a table
  abrfw flows --format json             as JSON
  abrfw flows --format dot | dot -Tsvg > catalog.svg   components and flows as a diagram";

const EXPLAIN_EXAMPLES: &str = "Examples:
  abrfw explain site.toml --host ams                   every rule of ams and why
  abrfw explain site.toml --host ams --port 445        why is 445 open (or closed) on ams?
  abrfw explain site.toml --host linux-agent --peer nas --format json";

const QUERY_EXAMPLES: &str = "Examples:
  abrfw query site.toml --from linux-agent --to ams --port 9876     may the agent register?
  abrfw query site.toml --from 198.51.100.7 --to nas --port 22        an address outside the site
  abrfw query site.toml --from win-agent --to ams --port 9876 --sport 40000 --format json";

const LOGS_EXAMPLES: &str = "Examples:
  journalctl -k -g abrfw-drop | abrfw logs site.toml -         what the kernel dropped
  abrfw logs site.toml /var/log/kern.log                      the same from rsyslog's file
  abrfw logs site.toml pfirewall.log --format json            a Windows host's drop log
  tcpdump -n -e -ttt -r /var/log/pflog > pf.txt && abrfw logs site.toml pf.txt";

const GRAPH_EXAMPLES: &str = "Examples:
  abrfw graph site.toml > site.dot                     Graphviz DOT
  abrfw graph site.toml --format mermaid > site.mmd    Mermaid (renders in Markdown viewers)
  abrfw graph site.toml --format svg > site.svg        SVG, laid out without Graphviz
  abrfw graph site.toml --phase operate                only the flows of normal operation
  abrfw graph big.toml --group class --format svg      one box per class of hosts";

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Also list the flows that cross zones without encryption (from the catalog's encryption
    /// notes): unencrypted, depending on SMB settings, or without a vendor note.
    #[arg(long)]
    pub encryption: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The host whose rules to explain, or a [[gateway]] whose forward rules to explain.
    #[arg(long, value_name = "NAME")]
    pub host: String,
    /// Only rules on this port; also list the flows on it that give the host no rule, and why.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Only rules towards this host; also list the flows between the two that give no rule.
    #[arg(long, value_name = "NAME")]
    pub peer: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// Readable text.
    Text,
    /// JSON (rules as the IR has them, reasons as tagged objects).
    Json,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The initiator: a host name or an address.
    #[arg(long, value_name = "HOST|ADDRESS")]
    pub from: String,
    /// The responder: a host name or an address.
    #[arg(long, value_name = "HOST|ADDRESS")]
    pub to: String,
    /// The responder's port.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Transport protocol.
    #[arg(long, value_enum, default_value_t = QueryProtocol::Tcp)]
    pub protocol: QueryProtocol,
    /// The initiator's source port (default: any port of its OS ephemeral range).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u16).range(1..))]
    pub sport: Option<u16>,
    /// Address family, 4 or 6 (default: IPv4 when both ends have it).
    #[arg(long, value_name = "4|6", value_parser = ["4", "6"])]
    pub family: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Log files to read (`-`: standard input); the form of each line is recognised.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The host or gateway that wrote the files, for lines that name none (pfirewall.log,
    /// pflog, dmesg); syslog and journal lines name their host themselves.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryProtocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Only the flows of this phase (default: the phases the topology selects).
    #[arg(long, value_enum)]
    pub phase: Option<GraphPhase>,
    /// One box per host, per class (hosts of one zone with the same OS and roles), or per zone
    /// (default: host, class above 40 hosts).
    #[arg(long, value_enum)]
    pub group: Option<GraphGroup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphGroup {
    /// One box per host.
    Host,
    /// One box per zone, OS and set of roles, with the host count.
    Class,
    /// One box per zone.
    Zone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`dot -Tsvg`), zones as clusters.
    Dot,
    /// Mermaid flowchart, zones as subgraphs.
    Mermaid,
    /// SVG laid out by abrfw itself, no Graphviz needed: zone frames, numbered arrows, a key.
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphPhase {
    /// Remote installation of agents.
    Install,
    /// Normal operation.
    Operate,
}

#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The directory `compile --out-dir` wrote (must exist), recorded as the `abrfw_tree` variable, absolute.
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
    /// Compile under this release instead of the topology's `release` (see `abrfw releases`).
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
    /// Load a release catalog of your own (TOML, see docs/releases.md) and compile under it,
    /// unless --release names another release.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Treat warnings (a host that policy "drop" may lock its administrators out of) as errors:
    /// report them and exit 2.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Directory to write DIR/<host>/<file> into (created if missing). A host or gateway with
    /// nftables, iptables or pf files also gets DIR/<host>/apply.sh, which loads them with a
    /// timed rollback (docs/rollout.md).
    #[arg(long, short, value_name = "DIR", required_unless_present = "host")]
    pub out_dir: Option<PathBuf>,
    /// Print the rule set of this one host to stdout instead of writing files.
    #[arg(long, value_name = "NAME", conflicts_with = "out_dir")]
    pub host: Option<String>,
    /// Only this backend, for every host it serves (default: the backends the topology chooses
    /// for each host, `backends` or `[options] linux_backends`, else every default backend of
    /// the host's OS; with --host, the first of them).
    #[arg(long, value_parser = compile_backend_parser())]
    pub backend: Option<CompileBackend>,
    /// Print the compiled IR of the host or gateway as JSON instead of a backend's files.
    #[arg(long, requires = "host", conflicts_with = "backend")]
    pub ir: bool,
    /// Write nothing; list the files a run would add, change or remove and exit 1, or exit 0
    /// when --out-dir is current.
    #[arg(long, requires = "out_dir")]
    pub check: bool,
    /// How to lay out --out-dir: `hosts`, DIR/<host>/<file> for every host and gateway; or
    /// `classes`, DIR/<class>/<file> once per class of hosts with the same rules and
    /// DIR/index/hosts.json mapping each host to its class (docs/config-management.md).
    /// Default: the layout the tree in DIR has, else `hosts`.
    #[arg(long, value_enum, requires = "out_dir")]
    pub layout: Option<crate::classes::Layout>,
    /// Seconds to wait for another abrfw run writing into --out-dir to finish (DIR/.abrfw.lock)
    /// before giving up with exit 2.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60,
        requires = "out_dir"
    )]
    pub lock_wait: u64,
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
    /// Graphviz DOT: components and the flows between them.
    Dot,
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
pub struct ServicesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ServicesFormat::Table)]
    pub format: ServicesFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServicesFormat {
    /// Aligned columns for a terminal.
    Table,
    /// JSON: every service with its ports and source.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The site, or the old and the new version of it.
    #[arg(required_unless_present = "example", num_args = 1..=2, value_name = "SITE.toml")]
    pub sites: Vec<PathBuf>,
    /// Use the built-in example site (on both sides) instead of a file.
    #[arg(long, conflicts_with = "sites")]
    pub example: bool,
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
    #[arg(long, value_parser = backend_parser())]
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

/// A `--backend` value: a row of the backend table, [`abrfw_backends::BACKENDS`].
pub type Backend = &'static abrfw_backends::Backend;

/// What `compile --backend` asks for: a backend's files, or the IR (`ir`, the spelling `--ir`
/// replaces and keeps working).
#[derive(Debug, Clone, Copy)]
pub enum CompileBackend {
    /// The files of one backend.
    Rules(Backend),
    /// The compiled IR as JSON.
    Ir,
}

/// The `--backend` values and their help lines, from the backend table.
fn backend_values() -> impl Iterator<Item = PossibleValue> {
    abrfw_backends::BACKENDS
        .iter()
        .map(|b| PossibleValue::new(b.name).help(b.help))
}

/// Parses `--backend NAME` against the backend table.
fn backend_parser() -> impl TypedValueParser<Value = Backend> {
    PossibleValuesParser::new(backend_values())
        .map(|name| abrfw_backends::find(&name).expect("clap accepts only the table's names"))
}

/// Parses `compile --backend NAME`: the table's names, and `ir`.
fn compile_backend_parser() -> impl TypedValueParser<Value = CompileBackend> {
    let ir = PossibleValue::new("ir")
        .help("The compiled IR of the host as JSON (any host with an OS; printed with --host only; same as --ir)");
    PossibleValuesParser::new(backend_values().chain([ir]))
        .map(|name| abrfw_backends::find(&name).map_or(CompileBackend::Ir, CompileBackend::Rules))
}
