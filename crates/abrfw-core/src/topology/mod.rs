//! The site description: parse the TOML (its private `raw` module) and resolve it into a validated [`Topology`].

mod hazards;
mod limits;
mod lockout;
mod outbound;
mod raw;
mod site_checks;
mod syntax;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use ipnet::IpNet;

use crate::catalog::{Catalog, DEFAULT_ACRONIS_PORT, Phase, Release};
use crate::diagnostic::{Diagnostic, TopologyError};
use crate::ir::{Log, Outbound, Policy, PortRange, Protocol, address_text};
use crate::os::Os;
use crate::role::Role;
use crate::services::SourcePort;
use raw::{OneOrMany, RawAllow, RawGateway, RawPort, RawTopology, RawZone};

pub use limits::{
    MAX_ADDRESSES_PER_HOST, MAX_ALLOWS, MAX_FILE_BYTES, MAX_GATEWAYS, MAX_HOSTS,
    MAX_NETWORKS_PER_ZONE, MAX_ZONES,
};
pub use lockout::admin_ports;

/// Longest host or allow name, in bytes. Names become directory names, rule names and parts of
/// set and chain names in every backend; 63 keeps all of them within their limits.
pub const MAX_NAME_LEN: usize = 63;

/// Most (from, to, port) combinations one `[[allow]]` may select.
pub const MAX_ALLOW_PAIRS: u64 = 1_000_000;

/// Longest `[[allow]] description`, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 200;

/// A validated site.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The release whose flows apply.
    pub release: &'static Release,
    /// Site-wide options.
    pub options: Options,
    /// Hosts, in file order.
    pub hosts: Vec<Host>,
    /// Site-specific extra flows, in file order.
    pub allows: Vec<Allow>,
    /// Firewalls between zones, in file order.
    pub gateways: Vec<Gateway>,
    /// The `[[zone]]` tables, sorted by name: zones with the networks that belong to them.
    pub zones: Vec<SiteZone>,
    /// Problems that do not stop compilation (the lockout guard), in file order; `check
    /// --strict` makes them errors. Render them with [`crate::diagnostic::Warnings`].
    pub warnings: Vec<Diagnostic>,
}

/// The zone of hosts that do not name one.
pub const DEFAULT_ZONE: &str = "default";

/// Longest interface name: Linux's IFNAMSIZ less the terminating NUL.
pub const MAX_INTERFACE_LEN: usize = 15;

/// One `[[gateway]]`: a firewall that routes between zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Unique name (shared namespace with hosts: it names the output directory).
    pub name: String,
    /// `openbsd`, `freebsd`, `macos` (pf) or `linux`.
    pub os: Os,
    /// The zones it routes between, sorted, each with its interface when given.
    pub zones: Vec<(String, Option<String>)>,
    /// `backends = [...]`: the backends its files are written with, as written (checked against
    /// the backend table by the CLI, which knows it); `None` for the site's choice.
    pub backends: Option<BackendList>,
    /// Drop (a complete forward policy) or fragment: its own `policy`, else `[options] policy`.
    pub policy: Policy,
}

/// A list of backend names as the topology spells them, each with where it is, so that the
/// code that knows the backends (the CLI's backend table) can reject one with a located error.
/// Core knows no backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendList {
    /// The names, in file order, each with its span in the topology text.
    pub names: Vec<(String, Range<usize>)>,
    /// The span of the whole list.
    pub span: Range<usize>,
}

impl BackendList {
    fn from_raw(raw: &toml::Spanned<Vec<toml::Spanned<String>>>) -> Self {
        BackendList {
            names: raw
                .get_ref()
                .iter()
                .map(|n| (n.get_ref().clone(), n.span()))
                .collect(),
            span: raw.span(),
        }
    }
}

impl Gateway {
    /// The interfaces of its zones, sorted by zone, when the topology names them (it names
    /// either all or none): the gateway then filters only traffic between these interfaces.
    pub fn interfaces(&self) -> Option<Vec<&str>> {
        self.zones.iter().map(|(_, i)| i.as_deref()).collect()
    }

    /// Whether it routes between zones `a` and `b` (two different zones, both its own).
    pub fn routes(&self, a: &str, b: &str) -> bool {
        a != b && self.zones.iter().any(|(z, _)| z == a) && self.zones.iter().any(|(z, _)| z == b)
    }
}

/// One `[[zone]]`: a network segment with a name, and the networks that lie in it. An address
/// or network of an `[[allow]]` inside one of them belongs to the zone, so the rule crosses the
/// gateways between that zone and the other end's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteZone {
    /// Zone name, as hosts and gateways name it.
    pub name: String,
    /// Its networks, sorted, host bits clear; no two zones' networks overlap.
    pub networks: Vec<IpNet>,
}

impl Topology {
    /// The zone whose networks contain all of `net`, if any.
    pub fn zone_of_network(&self, net: IpNet) -> Option<&str> {
        self.zones
            .iter()
            .find(|z| z.networks.iter().any(|n| n.contains(&net)))
            .map(|z| z.name.as_str())
    }

    /// The zone an `[[allow]]` end sits in: a host's own zone, or the zone whose networks hold
    /// the address; `None` for an address in no zone.
    pub fn zone_of_end(&self, end: AllowEnd) -> Option<&str> {
        match end {
            AllowEnd::Host(i) => Some(self.hosts[i].zone.as_str()),
            AllowEnd::Network(n) => self.zone_of_network(n),
        }
    }

    /// The gateways that forward traffic from zone `from` to zone `to`, in file order.
    pub fn gateways_between<'t>(
        &'t self,
        from: &'t str,
        to: &'t str,
    ) -> impl Iterator<Item = &'t Gateway> + 't {
        self.gateways.iter().filter(move |g| g.routes(from, to))
    }
}

/// `[options]`, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Phases whose flows are compiled (default: both).
    pub phases: BTreeSet<Phase>,
    /// Whether the site has DNS (default `true`); `false` adds the no-DNS discovery flows.
    pub dns: bool,
    /// Drop (complete rule set, default) or fragment: hosts and gateways that set none.
    pub policy: Policy,
    /// Whether drop-policy hosts that set none drop (default) or accept outbound connections
    /// without a rule.
    pub outbound: Outbound,
    /// Acronis port of hosts that do not set their own (default 9876).
    pub acronis_port: u16,
    /// `log`: what every rule set logs unless its host says otherwise.
    pub log: Log,
    /// `linux_backends = [...]`: the backends of Linux and appliance hosts and gateways that
    /// name none themselves; `None` for the default rows of the backend table.
    pub linux_backends: Option<BackendList>,
}

/// One `[[host]]`: a machine, or a network of machines sharing one rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Unique name.
    pub name: String,
    /// Operating system; `None` for a peer abrfw writes no rules for.
    pub os: Option<Os>,
    /// Addresses and networks, host bits clear.
    pub addresses: Vec<IpNet>,
    /// Roles, sorted and unique.
    pub roles: Vec<Role>,
    /// The port this host's Acronis components listen on and talk to.
    pub acronis_port: u16,
    /// `nfs_mountd_port`: the port the host's NFS server pins mountd to, which makes it serve
    /// NFSv3 (rpcbind and mountd are opened to it besides NFS on 2049); `None`: NFSv4 only.
    pub nfs_mountd_port: Option<u16>,
    /// Source ports the host's outgoing connections use: its own setting, or its OS default.
    pub source_ports: Option<PortRange>,
    /// The network segment the host sits in ([`DEFAULT_ZONE`] unless it names one).
    pub zone: String,
    /// What its rule set logs (its own `log`, else `[options] log`).
    pub log: Log,
    /// `backends = [...]`: the backends its files are written with, as written; `None` for
    /// the site's choice.
    pub backends: Option<BackendList>,
    /// Drop or fragment (its own `policy`, else `[options] policy`).
    pub policy: Policy,
    /// Outbound without a rule: drop or accept (its own `outbound`, else `[options]
    /// outbound`). Only a drop policy has a default to change: see [`Host::drops_outbound`].
    pub outbound: Outbound,
    /// The phases whose flows it takes part in (its own `phases`, else `[options] phases`):
    /// a flow of a phase it lacks gives neither it nor its peers a rule for it.
    pub phases: BTreeSet<Phase>,
}

impl Host {
    /// True when this host's rule set drops the outbound connections it has no rule for:
    /// policy `drop` and outbound `drop` (its own values, else the site's). False under
    /// `outbound = "accept"` and under `policy = "fragment"` (the site's firewall decides).
    pub fn drops_outbound(&self) -> bool {
        self.policy == Policy::Drop && self.outbound == Outbound::Drop
    }

    /// The outbound setting its rule set is written with: a fragment has no default of its
    /// own, so it keeps [`Outbound::Drop`] (its outbound allow rules are written either way).
    pub fn effective_outbound(&self) -> Outbound {
        match self.policy {
            Policy::Drop => self.outbound,
            Policy::Fragment => Outbound::Drop,
        }
    }
}

/// The [`Allow`]s of each host, by index into [`Topology::allows`]: those it is the `from` end
/// of and those it is the `to` end of. One `[[allow]]` with `from = "all"` expands into an
/// `Allow` per host, so a check that scanned every allow for every host would be quadratic in
/// the site (23 s at 10,000 hosts with five such tables); looking a host's own up is not.
pub(crate) struct AllowsOf {
    /// `from[i]`: the allows whose `from` end is host `i`, in file order.
    pub from: Vec<Vec<usize>>,
    /// `to[i]`: the allows whose `to` end is host `i`, in file order.
    pub to: Vec<Vec<usize>>,
}

impl AllowsOf {
    pub(crate) fn new(topology: &Topology) -> Self {
        let n = topology.hosts.len();
        let mut out = Self {
            from: vec![Vec::new(); n],
            to: vec![Vec::new(); n],
        };
        for (k, a) in topology.allows.iter().enumerate() {
            if let AllowEnd::Host(i) = a.from {
                out.from[i].push(k);
            }
            if let AllowEnd::Host(i) = a.to {
                out.to[i].push(k);
            }
        }
        out
    }
}

/// One `[[allow]]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// What every `Allow` of its `[[allow]]` table shares: name, description, the items as
    /// written.
    pub table: Arc<AllowTable>,
    /// Who connects.
    pub from: AllowEnd,
    /// Who accepts.
    pub to: AllowEnd,
    /// Protocol (default TCP).
    pub protocol: Protocol,
    /// Destination port or range.
    pub ports: PortRange,
    /// The source ports the `from` end sends from: its ephemeral range, unless the service
    /// says otherwise (the DHCP client's 68; any port for NTP).
    pub source: SourcePort,
    /// The built-in service (`service = "dns"`) this protocol and port come from; `None` for
    /// `port`/`protocol`.
    pub service: Option<&'static str>,
    /// The `from` item that selected this end, by index into [`AllowTable::from_items`].
    from_item: u32,
    /// The `to` item that selected the other end, by index into [`AllowTable::to_items`].
    to_item: u32,
}

impl Allow {
    /// The table's unique name; the rule's flow id is `allow:<name>`.
    pub fn name(&self) -> &str {
        &self.table.name
    }

    /// Index of the `[[allow]]` in the file.
    pub fn origin(&self) -> usize {
        self.table.origin
    }

    /// Free text for rule comments (default: the name).
    pub fn description(&self) -> &str {
        &self.table.description
    }

    /// The `from` item that selected this end as written: a host name, an address,
    /// `role:<role>`, `os:<os>`, `zone:<zone>` or `all`.
    pub fn from_selector(&self) -> &str {
        &self.table.from_items[self.from_item as usize]
    }

    /// The `to` item that selected the other end, as written.
    pub fn to_selector(&self) -> &str {
        &self.table.to_items[self.to_item as usize]
    }
}

/// What the [`Allow`]s of one `[[allow]]` table share. A table with `from = "all"` expands
/// into an `Allow` per host and port (770,000 for AD from every Windows host at 100,000
/// hosts), so each `Allow` keeps only its ends, its port and a pointer here.
#[derive(Debug, PartialEq, Eq)]
pub struct AllowTable {
    /// Unique name; the rule's flow id is `allow:<name>`.
    pub name: String,
    /// Index of the `[[allow]]` in the file: a table's `Allow`s are consecutive in
    /// [`Topology::allows`].
    pub origin: usize,
    /// Free text for rule comments (default: the name).
    pub description: Arc<str>,
    /// The `from` items as written.
    pub from_items: Vec<String>,
    /// The `to` items as written.
    pub to_items: Vec<String>,
}

/// One side of an `[[allow]]` rule; at least one side is a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AllowEnd {
    /// A topology host, by index.
    Host(usize),
    /// An address or network outside the topology.
    Network(IpNet),
}

/// `text` without a leading UTF-8 byte-order mark, which editors do not show as a column.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The report for a file that is not UTF-8: where its first bad byte is (`valid` bytes are
/// fine) and one cause.
pub fn not_utf8(path: &str, bytes: &[u8], valid: usize) -> TopologyError {
    let before = String::from_utf8_lossy(&bytes[..valid]);
    let before = without_bom(&before);
    // The excerpt is the good part of the bad line and a stand-in for the bad byte.
    let source_text = format!("{before}\u{fffd}");
    let span = before.len()..source_text.len();
    TopologyError {
        path: path.to_owned(),
        diagnostics: vec![
            Diagnostic::new(
                format!(
                    "the file is not UTF-8: byte 0x{:02x} here is not valid UTF-8",
                    bytes[valid]
                ),
                span,
            )
            .help("save the file as UTF-8 (abrfw reads topologies and catalogs only in UTF-8)"),
        ],
        source_text,
    }
}

/// Parses and validates a topology file. `path` is only used in error messages.
pub fn parse(path: &str, text: &str, catalog: &Catalog) -> Result<Topology, TopologyError> {
    let error = |diagnostics| TopologyError {
        path: path.to_owned(),
        source_text: text.to_owned(),
        diagnostics,
    };
    if let Some(d) = limits::check_size(text) {
        return Err(error(vec![d]));
    }
    let raw: RawTopology =
        toml::from_str(text).map_err(|e| error(vec![syntax::diagnostic(&e, text)]))?;
    let too_many = limits::check_counts(&raw);
    if !too_many.is_empty() {
        return Err(error(too_many));
    }
    let mut resolver = Resolver {
        text,
        diagnostics: Vec::new(),
    };
    let topology = resolver.resolve(raw, catalog);
    if resolver.diagnostics.is_empty() {
        Ok(topology)
    } else {
        resolver
            .diagnostics
            .sort_by_key(|d| d.span.as_ref().map(|s| s.start));
        Err(error(resolver.diagnostics))
    }
}

struct Resolver<'a> {
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Resolver<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn resolve(&mut self, raw: RawTopology, catalog: &Catalog) -> Topology {
        let release = match &raw.release {
            None => catalog.default_release(),
            Some(r) => catalog.release(r.get_ref()).unwrap_or_else(|| {
                let known = catalog.ids();
                self.report(unknown("release", r.get_ref(), r.span(), &known));
                catalog.default_release()
            }),
        };
        let options = self.options(&raw.options);
        let hosts: Vec<Host> = raw.hosts.iter().map(|h| self.host(h, &options)).collect();
        self.check_unique_names("host", raw.hosts.iter().map(|h| &h.name));
        if raw.hosts.is_empty() {
            self.report(Diagnostic {
                message: "the topology has no hosts".into(),
                span: Some(0..0),
                help: Some(
                    "add at least one [[host]] table with name, os, addresses and roles".into(),
                ),
            });
        }
        let index: HashMap<&str, usize> = raw
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.name.get_ref().as_str(), i))
            .collect();
        self.check_unique_names("zone", raw.zones.iter().map(|z| &z.name));
        let mut site_zones: Vec<SiteZone> = raw.zones.iter().map(|z| self.zone(z)).collect();
        self.check_zone_overlaps(&raw.zones, &site_zones);
        site_zones.sort_by(|a, b| a.name.cmp(&b.name));
        let allows: Vec<Allow> = raw
            .allows
            .iter()
            .enumerate()
            .flat_map(|(i, a)| self.allow(i, a, &index, &hosts, &site_zones))
            .collect();
        self.check_unique_names("allow", raw.allows.iter().map(|a| &a.name));
        self.check_zone_spellings(
            raw.hosts
                .iter()
                .filter_map(|h| h.zone.as_ref())
                .chain(raw.zones.iter().map(|z| &z.name)),
        );
        let zones: BTreeSet<&str> = hosts
            .iter()
            .map(|h| h.zone.as_str())
            .chain(site_zones.iter().map(|z| z.name.as_str()))
            .collect();
        let gateways: Vec<Gateway> = raw
            .gateways
            .iter()
            .map(|g| self.gateway(g, &zones, &options))
            .collect();
        // Gateways share the hosts' namespace: both name an output directory.
        let mut taken: BTreeSet<String> =
            hosts.iter().map(|h| h.name.to_ascii_lowercase()).collect();
        for g in &raw.gateways {
            if !taken.insert(g.name.get_ref().to_ascii_lowercase()) {
                self.report(
                    Diagnostic::new(format!("duplicate gateway name {:?}", g.name.get_ref()), g.name.span())
                        .help("a gateway name must differ from every host and gateway name (ignoring case)"),
                );
            }
        }
        let (errors, contained) = site_checks::addresses(&raw.hosts, |o| self.line_of(o));
        for e in errors {
            self.report(e);
        }
        for e in site_checks::zone_typos(&raw.hosts, &raw.zones, &hosts, &gateways) {
            self.report(e);
        }
        let mut topology = Topology {
            release,
            options,
            hosts,
            allows,
            gateways,
            zones: site_zones,
            warnings: Vec::new(),
        };
        let name_spans: Vec<Range<usize>> = raw.hosts.iter().map(|h| h.name.span()).collect();
        let mut warnings = lockout::warnings(&topology, &name_spans);
        warnings.extend(outbound::warnings(&topology, &name_spans));
        warnings.extend(hazards::internet_wide(&raw));
        warnings.extend(contained);
        if self.diagnostics.is_empty() {
            // Allows are resolved one to one with the raw ones only when none failed.
            warnings.extend(hazards::without_rules(
                &topology.hosts,
                &topology.allows,
                &raw.allows,
            ));
            warnings.extend(lockout::gateway_warnings(&topology, &raw.allows));
        }
        warnings.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
        topology.warnings = warnings;
        topology
    }

    fn options(&mut self, raw: &raw::RawOptions) -> Options {
        let phases = match &raw.phases {
            None => Phase::ALL.into_iter().collect(),
            Some(list) => self.phases(list),
        };
        let policy = raw.policy.as_ref().map_or(Policy::Drop, |p| self.policy(p));
        let outbound = raw
            .outbound
            .as_ref()
            .map_or(Outbound::Drop, |o| self.outbound(o));
        let acronis_port = raw
            .acronis_port
            .as_ref()
            .map_or(DEFAULT_ACRONIS_PORT, |p| self.port_number(p));
        let log = raw.log.as_ref().map_or(Log::Off, |l| self.log(l));
        Options {
            phases,
            dns: raw.dns.unwrap_or(true),
            policy,
            outbound,
            acronis_port,
            linux_backends: raw.linux_backends.as_ref().map(BackendList::from_raw),
            log,
        }
    }

    /// `phases = ["install", "operate"]`, in `[options]` or a `[[host]]`.
    fn phases(&mut self, list: &toml::Spanned<Vec<toml::Spanned<String>>>) -> BTreeSet<Phase> {
        let mut phases = BTreeSet::new();
        if list.get_ref().is_empty() {
            self.report(
                Diagnostic::new("`phases` is empty", list.span())
                    .help(r#"list at least one of "install", "operate""#),
            );
        }
        for p in list.get_ref() {
            match Phase::from_name(p.get_ref()) {
                Some(phase) => {
                    phases.insert(phase);
                }
                None => self.report(unknown(
                    "phase",
                    p.get_ref(),
                    p.span(),
                    &["install", "operate"],
                )),
            }
        }
        phases
    }

    /// `policy = "drop"` or `"fragment"`.
    fn policy(&mut self, p: &toml::Spanned<String>) -> Policy {
        match p.get_ref().as_str() {
            "drop" => Policy::Drop,
            "fragment" => Policy::Fragment,
            other => {
                self.report(unknown(
                    "policy",
                    other,
                    p.span(),
                    &[Policy::Drop.as_str(), Policy::Fragment.as_str()],
                ));
                Policy::Drop
            }
        }
    }

    /// `outbound = "drop"` or `"accept"`.
    fn outbound(&mut self, o: &toml::Spanned<String>) -> Outbound {
        match o.get_ref().as_str() {
            "drop" => Outbound::Drop,
            "accept" => Outbound::Accept,
            other => {
                self.report(unknown(
                    "outbound",
                    other,
                    o.span(),
                    &[Outbound::Drop.as_str(), Outbound::Accept.as_str()],
                ));
                Outbound::Drop
            }
        }
    }

    /// `log = "drops"` or `"off"`.
    fn log(&mut self, l: &toml::Spanned<String>) -> Log {
        match l.get_ref().as_str() {
            "drops" => Log::Drops,
            "off" => Log::Off,
            other => {
                self.report(unknown("log", other, l.span(), &["drops", "off"]));
                Log::Off
            }
        }
    }

    fn port_number(&mut self, p: &toml::Spanned<raw::RawPortNumber>) -> u16 {
        match u16::try_from(p.get_ref().0) {
            Ok(port) if port > 0 => port,
            _ => {
                self.report(
                    Diagnostic::new(format!("port {} is out of range", p.get_ref().0), p.span())
                        .help("a TCP/UDP port is a number from 1 to 65535"),
                );
                DEFAULT_ACRONIS_PORT
            }
        }
    }

    fn port_range(&mut self, p: &RawPort, span: Range<usize>) -> PortRange {
        let parsed = match p {
            RawPort::Number(n) => u16::try_from(*n).ok().and_then(|n| PortRange::new(n, n)),
            RawPort::Text(t) => parse_port_range(t),
        };
        parsed.unwrap_or_else(|| {
            let shown = match p {
                RawPort::Number(n) => n.to_string(),
                RawPort::Text(t) => format!("{t:?}"),
            };
            self.report(
                Diagnostic::new(format!("invalid port or port range {shown}"), span).help(
                    r#"write one port (22) or an inclusive range as a string ("8000-8100"), ports 1 to 65535"#,
                ),
            );
            PortRange::single(1)
        })
    }

    fn name(&mut self, what: &str, name: &toml::Spanned<String>) {
        if let Err(why) = check_name(name.get_ref()) {
            let rule = format!(
                "use 1 to {MAX_NAME_LEN} characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
            );
            let help = match valid_name_like(name.get_ref()) {
                Some(fixed) => format!("did you mean {fixed:?}? ({rule})"),
                None => rule,
            };
            self.report(
                Diagnostic::new(
                    format!("invalid {what} name {:?}: {why}", name.get_ref()),
                    name.span(),
                )
                .help(help),
            );
        }
    }

    /// A host or gateway name also names its output directory.
    fn directory_name(&mut self, what: &str, name: &toml::Spanned<String>) {
        if check_name(name.get_ref()).is_ok()
            && let Err(why) = check_directory_name(name.get_ref())
        {
            self.report(
                Diagnostic::new(format!("invalid {what} name {:?}: {why}", name.get_ref()), name.span())
                    .help("host and gateway names become directory names in `compile --out-dir`, which must work on every file system: choose another name"),
            );
        }
    }

    fn check_unique_names<'a>(
        &mut self,
        what: &str,
        names: impl Iterator<Item = &'a toml::Spanned<String>>,
    ) {
        // Case-insensitive: host names become directory names, and Windows rule names ignore case.
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for name in names {
            let key = name.get_ref().to_ascii_lowercase();
            if let Some(first) = seen.get(&key) {
                let first_line = self.line_of(first.start);
                self.report(
                    Diagnostic::new(format!("duplicate {what} name {:?}", name.get_ref()), name.span())
                        .help(format!(
                            "{what} names must be unique (ignoring case); the first one is on line {first_line}: rename one of them"
                        )),
                );
            } else {
                seen.insert(key, name.span());
            }
        }
    }

    /// Zones name pf tables and anchors and parts of file names: `Office` and `office` would
    /// be one on Windows and case-insensitive file systems, but two zones to abrfw.
    fn check_zone_spellings<'z>(&mut self, names: impl Iterator<Item = &'z toml::Spanned<String>>) {
        let mut first: HashMap<String, &toml::Spanned<String>> = HashMap::new();
        for z in names {
            let key = z.get_ref().to_ascii_lowercase();
            match first.get(&key) {
                Some(f) if f.get_ref() != z.get_ref() => {
                    let line = self.line_of(f.span().start);
                    self.report(
                        Diagnostic::new(
                            format!(
                                "zone {:?} differs only in case from zone {:?}",
                                z.get_ref(),
                                f.get_ref()
                            ),
                            z.span(),
                        )
                        .help(format!(
                            "zone names must be unique ignoring case; line {line} spells it {:?}: use one spelling",
                            f.get_ref()
                        )),
                    );
                }
                Some(_) => {}
                None => {
                    first.insert(key, z);
                }
            }
        }
    }

    fn zone(&mut self, raw: &RawZone) -> SiteZone {
        self.name("zone", &raw.name);
        let mut networks = Vec::new();
        for n in raw.networks.iter().flat_map(|l| l.get_ref()) {
            match parse_address(n.get_ref()) {
                Ok(net) => networks.push(net),
                Err(help) => self.report(
                    Diagnostic::new(format!("invalid network {:?}", n.get_ref()), n.span())
                        .help(help),
                ),
            }
        }
        networks.sort();
        networks.dedup();
        SiteZone {
            name: raw.name.get_ref().clone(),
            networks,
        }
    }

    /// An address in two zones would have two meanings: the networks of different zones must
    /// not overlap.
    fn check_zone_overlaps(&mut self, raw: &[RawZone], zones: &[SiteZone]) {
        let mut seen: Vec<(IpNet, usize)> = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            for n in r.networks.iter().flat_map(|l| l.get_ref()) {
                let Ok(net) = parse_address(n.get_ref()) else {
                    continue;
                };
                let clash = seen
                    .iter()
                    .find(|(other, j)| *j != i && (other.contains(&net) || net.contains(other)));
                if let Some((other, j)) = clash {
                    self.report(
                        Diagnostic::new(
                            format!(
                                "network {} of zone {:?} overlaps network {} of zone {:?}",
                                address_text(net),
                                zones[i].name,
                                address_text(*other),
                                zones[*j].name
                            ),
                            n.span(),
                        )
                        .help("an address belongs to one zone: split the networks so that no two zones share addresses"),
                    );
                }
                seen.push((net, i));
            }
        }
    }

    fn host(&mut self, raw: &raw::RawHost, options: &Options) -> Host {
        self.name("host", &raw.name);
        self.directory_name("host", &raw.name);
        let os =
            raw.os.as_ref().and_then(|os| {
                let found = Os::from_name(os.get_ref());
                if found.is_none() {
                    let names: Vec<&str> = Os::ALL.iter().map(|o| o.as_str()).collect();
                    self.report(unknown("os", os.get_ref(), os.span(), &names).help_suffix(
                        " Or leave out `os` for a peer that abrfw writes no rules for.",
                    ));
                }
                found
            });

        if raw.addresses.get_ref().is_empty() {
            self.report(
                Diagnostic::new(format!("host {:?} has no addresses", raw.name.get_ref()), raw.addresses.span())
                    .help(r#"give at least one IPv4/IPv6 address or network, e.g. addresses = ["10.0.0.10"]"#),
            );
        }
        let mut addresses = Vec::new();
        for a in raw.addresses.get_ref() {
            match parse_address(a.get_ref()) {
                Ok(net) => addresses.push(net),
                Err(help) => self.report(
                    Diagnostic::new(format!("invalid address {:?}", a.get_ref()), a.span())
                        .help(help),
                ),
            }
        }
        addresses.sort();
        addresses.dedup();

        if raw.roles.get_ref().is_empty() {
            self.report(
                Diagnostic::new(
                    format!("host {:?} has no roles", raw.name.get_ref()),
                    raw.roles.span(),
                )
                .help(format!(
                    "give at least one role: {}",
                    role_names().join(", ")
                )),
            );
        }
        let mut roles = Vec::new();
        for r in raw.roles.get_ref() {
            let Some(role) = Role::from_name(r.get_ref()) else {
                self.report(unknown("role", r.get_ref(), r.span(), &role_names()));
                continue;
            };
            if roles.contains(&role) {
                self.report(
                    Diagnostic::new(format!("role {role} is listed twice"), r.span())
                        .help("remove the repeated role"),
                );
                continue;
            }
            if let Some(os) = os {
                let supported = role.supported_os();
                if !supported.contains(&os) {
                    let help = if supported.is_empty() {
                        format!(
                            "{role} runs an OS abrfw does not write rules for: remove `os` to describe it as a peer"
                        )
                    } else {
                        let names: Vec<&str> = supported.iter().map(|o| o.as_str()).collect();
                        format!(
                            "{role} runs on {}; put it on a host with one of those, or remove `os` to describe a peer",
                            names.join(", ")
                        )
                    };
                    self.report(
                        Diagnostic::new(format!("role {role} does not run on os {os}"), r.span())
                            .help(help),
                    );
                }
            }
            roles.push(role);
        }
        roles.sort();

        let acronis_port = raw
            .acronis_port
            .as_ref()
            .map_or(options.acronis_port, |p| self.port_number(p));
        let nfs_mountd_port = raw.nfs_mountd_port.as_ref().map(|p| {
            if !roles.iter().any(|r| r.serves_nfs()) {
                self.report(
                    Diagnostic::new(
                        format!(
                            "nfs_mountd_port on host {:?}, which serves no NFS vault",
                            raw.name.get_ref()
                        ),
                        p.span(),
                    )
                    .help(
                        "nfs_mountd_port belongs on a host with role vault-nfs or \
                         managed-vault-nfs (the NAS); remove it here",
                    ),
                );
            }
            let port = self.port_number(p);
            if port == 111 || port == 2049 {
                self.report(
                    Diagnostic::new(
                        format!(
                            "nfs_mountd_port {port} is {}'s own port; mountd needs a port of its own",
                            if port == 111 { "rpcbind" } else { "NFS" }
                        ),
                        p.span(),
                    )
                    .help("give the port mountd is pinned to, e.g. 20048 (IANA's mountd port)"),
                );
            }
            port
        });
        let source_ports = match &raw.ephemeral_ports {
            Some(p) => Some(self.port_range(p.get_ref(), p.span())),
            None => os.map(Os::ephemeral_ports),
        };
        let zone = match &raw.zone {
            None => DEFAULT_ZONE.to_owned(),
            Some(z) => {
                self.name("zone", z);
                z.get_ref().clone()
            }
        };
        let log = raw.log.as_ref().map_or(options.log, |l| self.log(l));
        let policy = raw
            .policy
            .as_ref()
            .map_or(options.policy, |p| self.policy(p));
        let outbound = raw
            .outbound
            .as_ref()
            .map_or(options.outbound, |o| self.outbound(o));
        let phases = match &raw.phases {
            None => options.phases.clone(),
            Some(list) => self.phases(list),
        };
        Host {
            name: raw.name.get_ref().clone(),
            os,
            addresses,
            roles,
            acronis_port,
            nfs_mountd_port,
            source_ports,
            zone,
            log,
            backends: raw.backends.as_ref().map(BackendList::from_raw),
            policy,
            outbound,
            phases,
        }
    }

    fn gateway(&mut self, raw: &RawGateway, zones: &BTreeSet<&str>, options: &Options) -> Gateway {
        self.name("gateway", &raw.name);
        self.directory_name("gateway", &raw.name);
        let os = Os::from_name(raw.os.get_ref()).filter(|os| crate::os::GATEWAY_OS.contains(os));
        if os.is_none() {
            let names: Vec<&str> = crate::os::GATEWAY_OS.iter().map(|o| o.as_str()).collect();
            self.report(unknown(
                "gateway os",
                raw.os.get_ref(),
                raw.os.span(),
                &names,
            ));
        }
        let known: Vec<&str> = zones.iter().copied().collect();
        let check_zone = |this: &mut Self, z: &toml::Spanned<String>| -> bool {
            if zones.contains(z.get_ref().as_str()) {
                return true;
            }
            let mut d = unknown("zone", z.get_ref(), z.span(), &known);
            d.help = Some(format!(
                "{} Zones are those the hosts name (`zone = ...`, default {DEFAULT_ZONE:?}) and the [[zone]] tables.",
                d.help.unwrap_or_default()
            ));
            this.report(d);
            false
        };
        let mut selected: BTreeSet<String> = BTreeSet::new();
        match &raw.zones {
            None => selected.extend(zones.iter().map(|z| (*z).to_owned())),
            Some(list) => {
                for z in list.get_ref() {
                    if check_zone(self, z) {
                        selected.insert(z.get_ref().clone());
                    }
                }
                if list.get_ref().len() < 2 {
                    self.report(
                        Diagnostic::new("a gateway routes between at least two zones", list.span())
                            .help(
                                "list two or more zones, or leave `zones` out to mean all of them",
                            ),
                    );
                }
            }
        }
        let mut interfaces: BTreeMap<String, String> = BTreeMap::new();
        for (zone, iface) in &raw.interfaces {
            if check_zone(self, zone) && !selected.contains(zone.get_ref()) {
                self.report(
                    Diagnostic::new(
                        format!(
                            "zone {:?} is not among this gateway's zones",
                            zone.get_ref()
                        ),
                        zone.span(),
                    )
                    .help("add it to `zones`, or remove its interface"),
                );
            }
            if let Err(why) = check_interface(iface.get_ref()) {
                self.report(
                    Diagnostic::new(
                        format!("invalid interface name {:?}: {why}", iface.get_ref()),
                        iface.span(),
                    )
                    .help(format!(
                        "use 1 to {MAX_INTERFACE_LEN} characters from A-Z a-z 0-9 . _ -, starting with a letter"
                    )),
                );
            }
            interfaces.insert(zone.get_ref().clone(), iface.get_ref().clone());
        }
        // With interfaces the gateway filters only traffic between them, so each of its zones
        // needs one: a zone without would be neither filtered nor left alone on purpose.
        if !interfaces.is_empty() {
            let missing: Vec<&str> = selected
                .iter()
                .filter(|z| !interfaces.contains_key(*z))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let span = raw
                    .interfaces
                    .keys()
                    .next()
                    .map_or_else(|| raw.name.span(), |k| k.span());
                self.report(
                    Diagnostic::new(
                        format!(
                            "gateway {:?} names interfaces for some zones but not for {}",
                            raw.name.get_ref(),
                            missing
                                .iter()
                                .map(|z| format!("{z:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        span,
                    )
                    .help(format!(
                        "give every zone of the gateway its interface (interfaces = {{ {} = \"...\", ... }}), or none to filter all forwarded traffic",
                        missing[0]
                    )),
                );
            }
        }
        Gateway {
            name: raw.name.get_ref().clone(),
            os: os.unwrap_or(Os::Linux),
            zones: selected
                .into_iter()
                .map(|z| {
                    let iface = interfaces.get(&z).cloned();
                    (z, iface)
                })
                .collect(),
            backends: raw.backends.as_ref().map(BackendList::from_raw),
            policy: raw
                .policy
                .as_ref()
                .map_or(options.policy, |p| self.policy(p)),
        }
    }

    /// One `from`/`to` item: a host name, an address or network, `role:<role>`, `os:<os>`,
    /// `zone:<zone>` or `all`; the ends it selects, or `None` after reporting why it selects nothing.
    fn allow_end(
        &mut self,
        key: &str,
        text: &str,
        span: Range<usize>,
        hosts: &HashMap<&str, usize>,
        resolved: &[Host],
        zones: &[SiteZone],
    ) -> Option<Vec<AllowEnd>> {
        if let Some(&i) = hosts.get(text) {
            return Some(vec![AllowEnd::Host(i)]);
        }
        if let Ok(net) = parse_address(text) {
            return Some(vec![AllowEnd::Network(net)]);
        }
        let pick = |keep: &dyn Fn(&Host) -> bool| -> Vec<AllowEnd> {
            (0..resolved.len())
                .filter(|&i| keep(&resolved[i]))
                .map(AllowEnd::Host)
                .collect()
        };
        if text == "all" {
            let ends = pick(&|h| h.os.is_some());
            if ends.is_empty() {
                self.report(
                    Diagnostic::new(format!("`{key}` \"all\" selects no host"), span)
                        .help("`all` is every [[host]] with an `os`; give a host an `os`"),
                );
                return None;
            }
            return Some(ends);
        }
        if let Some(name) = text.strip_prefix("role:") {
            let Some(role) = Role::from_name(name) else {
                self.report(unknown("role", name, span, &role_names()));
                return None;
            };
            let ends = pick(&|h| h.roles.contains(&role));
            if ends.is_empty() {
                self.report(
                    Diagnostic::new(format!("`{key}` {text:?} selects no host"), span)
                        .help(format!("no [[host]] has the role {name:?}: add it to a host's `roles`, or remove the item")),
                );
                return None;
            }
            return Some(ends);
        }
        if let Some(name) = text.strip_prefix("os:") {
            let Some(os) = Os::from_name(name) else {
                let names: Vec<&str> = Os::ALL.iter().map(|o| o.as_str()).collect();
                self.report(unknown("os", name, span, &names));
                return None;
            };
            let ends = pick(&|h| h.os == Some(os));
            if ends.is_empty() {
                self.report(
                    Diagnostic::new(format!("`{key}` {text:?} selects no host"), span).help(
                        format!("no [[host]] has os = {name:?}: fix the item, or remove it"),
                    ),
                );
                return None;
            }
            return Some(ends);
        }
        if let Some(zone) = text.strip_prefix("zone:") {
            // The zone's hosts, then the networks of its [[zone]] table (addresses of machines
            // that are no host of the topology, such as the administrators' workstations).
            let mut ends = pick(&|h| h.zone == zone);
            ends.extend(
                zones
                    .iter()
                    .filter(|z| z.name == zone)
                    .flat_map(|z| z.networks.iter().copied().map(AllowEnd::Network)),
            );
            if ends.is_empty() {
                let names: BTreeSet<&str> = resolved
                    .iter()
                    .map(|h| h.zone.as_str())
                    .chain(zones.iter().map(|z| z.name.as_str()))
                    .collect();
                let names: Vec<&str> = names.into_iter().collect();
                self.report(unknown("zone", zone, span, &names));
                return None;
            }
            return Some(ends);
        }
        let names: Vec<&str> = hosts.keys().copied().collect();
        let help = match suggest(text, &names) {
            Some(s) => format!("did you mean {s:?}?"),
            None => "name a [[host]], write an IPv4/IPv6 address or network, `role:<role>`, `os:<os>`, `zone:<zone>` or `all`".into(),
        };
        self.report(
            Diagnostic::new(
                format!(
                    "`{key}` {text:?} is neither a host of this topology, an address nor a selector"
                ),
                span,
            )
            .help(help),
        );
        None
    }

    /// Every end a `from` or `to` value selects, in file order, each once.
    fn allow_ends(
        &mut self,
        key: &str,
        value: &toml::Spanned<OneOrMany>,
        hosts: &HashMap<&str, usize>,
        resolved: &[Host],
        zones: &[SiteZone],
    ) -> Option<Ends> {
        let mut out: Vec<(AllowEnd, u32)> = Vec::new();
        let mut items: Vec<String> = Vec::new();
        // The ends so far, to drop repeats in one pass: `all` selects every host.
        let mut seen: std::collections::HashSet<AllowEnd> = std::collections::HashSet::new();
        let mut ok = true;
        if value.get_ref().items.is_empty() {
            self.report(
                Diagnostic::new(format!("`{key}` is an empty list"), value.span())
                    .help("name at least one host, address, `role:<role>`, `os:<os>`, `zone:<zone>` or `all`"),
            );
            return None;
        }
        for (span, item) in OneOrMany::spanned(value) {
            let RawPort::Text(text) = item else {
                self.report(
                    Diagnostic::new(format!("`{key}` takes host names, addresses or selectors, not numbers"), span)
                        .help("quote it: a host name, an address such as \"192.0.2.10\", `role:<role>`, `os:<os>`, `zone:<zone>` or `all`"),
                );
                ok = false;
                continue;
            };
            match self.allow_end(key, text, span, hosts, resolved, zones) {
                Some(ends) => {
                    // Fits: an item takes a few bytes of a file of at most MAX_FILE_BYTES.
                    let item = u32::try_from(items.len()).unwrap_or(u32::MAX);
                    items.push(text.clone());
                    for e in ends {
                        if seen.insert(e) {
                            out.push((e, item));
                        }
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some((out, items))
    }

    /// One `[[allow]]`, expanded into one [`Allow`] per selected (from, to, port) triple; pairs
    /// of a host with itself are left out (`role:agent` to `role:agent`).
    fn allow(
        &mut self,
        origin: usize,
        raw: &RawAllow,
        hosts: &HashMap<&str, usize>,
        resolved: &[Host],
        zones: &[SiteZone],
    ) -> Vec<Allow> {
        self.name("allow", &raw.name);
        let from = self.allow_ends("from", &raw.from, hosts, resolved, zones);
        let to = self.allow_ends("to", &raw.to, hosts, resolved, zones);
        if let (Some((f, _)), Some((t, _))) = (&from, &to)
            && f.iter().all(|(e, _)| matches!(e, AllowEnd::Network(_)))
            && t.iter().all(|(e, _)| matches!(e, AllowEnd::Network(_)))
        {
            self.report(
                Diagnostic::new(
                    "neither `from` nor `to` is a host of this topology",
                    raw.to.span(),
                )
                .help("an [[allow]] rule is put on a host: name a [[host]] on at least one side"),
            );
        }
        let ports = self.allow_ports(raw);
        let description = match &raw.description {
            None => raw.name.get_ref().clone(),
            Some(d) => {
                if let Err(why) = check_description(d.get_ref()) {
                    self.report(
                        Diagnostic::new(format!("invalid description: {why}"), d.span()).help(
                            format!(
                                "use at most {MAX_DESCRIPTION_LEN} printable characters on one line"
                            ),
                        ),
                    );
                }
                d.get_ref().clone()
            }
        };
        let (Some((from, from_items)), Some((to, to_items))) = (from, to) else {
            return Vec::new();
        };
        let pairs = (from.len() as u64)
            .saturating_mul(to.len() as u64)
            .saturating_mul(ports.len() as u64);
        if pairs > MAX_ALLOW_PAIRS {
            self.report(
                Diagnostic::new(
                    format!(
                        "[[allow]] {:?} selects {pairs} (from, to, port) combinations, more than {MAX_ALLOW_PAIRS}",
                        raw.name.get_ref()
                    ),
                    raw.name.span(),
                )
                .help("narrow `from` or `to` (a role or zone instead of `all`), or use a network address on one side"),
            );
            return Vec::new();
        }
        // Shared by every Allow the table expands into (a million at most).
        let table = Arc::new(AllowTable {
            name: raw.name.get_ref().clone(),
            origin,
            description: Arc::from(description.as_str()),
            from_items,
            to_items,
        });
        let mut out = Vec::with_capacity(usize::try_from(pairs).unwrap_or(0));
        for &(f, from_item) in &from {
            for &(t, to_item) in &to {
                if f == t && (from.len() > 1 || to.len() > 1) {
                    continue;
                }
                for p in &ports {
                    out.push(Allow {
                        table: table.clone(),
                        from: f,
                        to: t,
                        protocol: p.protocol,
                        ports: p.ports,
                        source: p.source,
                        service: p.service,
                        from_item,
                        to_item,
                    });
                }
            }
        }
        out
    }

    /// The (protocol, port) pairs of an `[[allow]]`: its `service` list, or its `port` list
    /// with its `protocol` (default TCP); each once, in the order written.
    fn allow_ports(&mut self, raw: &RawAllow) -> Vec<AllowPort> {
        let mut out: Vec<AllowPort> = Vec::new();
        let mut push = |p: AllowPort| {
            if !out
                .iter()
                .any(|o| (o.protocol, o.ports) == (p.protocol, p.ports))
            {
                out.push(p);
            }
        };
        match (&raw.service, &raw.port) {
            (Some(service), _) => {
                for (key, span) in [
                    ("port", raw.port.as_ref().map(|p| p.span())),
                    ("protocol", raw.protocol.as_ref().map(|p| p.span())),
                ] {
                    if let Some(span) = span {
                        self.report(
                            Diagnostic::new(format!("`{key}` together with `service`"), span)
                                .help("a service names its own protocols and ports: remove `port` and `protocol`, or `service` (see `abrfw services`)"),
                        );
                    }
                }
                if service.get_ref().items.is_empty() {
                    self.report(
                        Diagnostic::new("`service` is an empty list", service.span())
                            .help("name at least one service; `abrfw services` lists them"),
                    );
                }
                for (span, item) in OneOrMany::spanned(service) {
                    let RawPort::Text(text) = item else {
                        self.report(
                            Diagnostic::new("`service` takes service names, not numbers", span)
                                .help("write a service name such as \"dns\", or use `port` for a port number"),
                        );
                        continue;
                    };
                    let Some(s) = crate::services::service(text) else {
                        self.report(
                            unknown("service", text, span, &crate::services::names())
                                .help_suffix(" `abrfw services` lists them."),
                        );
                        continue;
                    };
                    for p in s.ports {
                        push(AllowPort {
                            protocol: p.protocol,
                            ports: p.ports,
                            source: p.source,
                            service: Some(s.name),
                        });
                    }
                }
            }
            (None, None) => self.report(
                Diagnostic::new(
                    format!("[[allow]] {:?} has neither `port` nor `service`", raw.name.get_ref()),
                    raw.name.span(),
                )
                .help(r#"add `port = 22` (with `protocol = "udp"` for UDP) or `service = "ssh"` (`abrfw services` lists them)"#),
            ),
            (None, Some(port)) => {
                let protocol = match raw.protocol.as_ref().map(|p| p.get_ref().as_str()) {
                    None | Some("tcp") => Protocol::Tcp,
                    Some("udp") => Protocol::Udp,
                    Some(other) => {
                        let span = raw.protocol.as_ref().map_or(0..0, |p| p.span());
                        self.report(unknown("protocol", other, span, &["tcp", "udp"]));
                        Protocol::Tcp
                    }
                };
                if port.get_ref().items.is_empty() {
                    self.report(
                        Diagnostic::new("`port` is an empty list", port.span()).help(
                            r#"write one port (22), a range ("8000-8100") or a list of them"#,
                        ),
                    );
                }
                for (span, p) in OneOrMany::spanned(port) {
                    let range = self.port_range(p, span);
                    push(AllowPort {
                        protocol,
                        ports: range,
                        source: SourcePort::Ephemeral,
                        service: None,
                    });
                }
            }
        }
        out
    }
}

/// The ends one side of an `[[allow]]` selects, each with the index of the item that selected
/// it, and the items as written.
type Ends = (Vec<(AllowEnd, u32)>, Vec<String>);

/// One (protocol, port) an `[[allow]]` opens, with the service it comes from.
struct AllowPort {
    protocol: Protocol,
    ports: PortRange,
    source: SourcePort,
    service: Option<&'static str>,
}

fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}

/// "unknown role "agnet"" with a did-you-mean or the list of valid values.
pub fn unknown(what: &str, value: &str, span: Range<usize>, known: &[&str]) -> Diagnostic {
    let help = match suggest(value, known) {
        Some(s) => format!("did you mean {s:?}?"),
        None => format!("valid values: {}", known.join(", ")),
    };
    Diagnostic::new(format!("unknown {what} {value:?}"), span).help(help)
}

impl Diagnostic {
    fn help_suffix(mut self, suffix: &str) -> Self {
        if let Some(h) = &mut self.help {
            h.push_str(suffix);
        }
        self
    }
}

/// The closest known value, if it is close enough to be a typo.
pub fn suggest<'a>(value: &str, known: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for k in known {
        let d = strsim::levenshtein(&value.to_ascii_lowercase(), k);
        if d <= (k.len() / 3).max(2) && best.is_none_or(|(bd, bk)| (d, *k) < (bd, bk)) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// For a name whose only fault is white space: the name with each run of it turned into one
/// `-`, when that is valid ("web server ssh" -> "web-server-ssh"). Never suggests an invalid
/// name, and nothing for names with other characters (`$(reboot)` has no intended spelling).
fn valid_name_like(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if c.is_whitespace() {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            return None;
        }
    }
    let out = out
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .trim_end_matches('-')
        .to_owned();
    (out != name && check_name(&out).is_ok()).then_some(out)
}

/// Checks a host or allow name: `[A-Za-z0-9._-]`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("it is too long");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("it must start with a letter or digit");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("it contains a character other than A-Z a-z 0-9 . _ -");
    }
    Ok(())
}

/// The manifest `compile --out-dir` writes beside the host directories; no host may be named so.
pub const MANIFEST_FILE_NAME: &str = "abrfw.json";

/// Checks a name that [`check_name`] accepts for use as a directory name on every file system a
/// generated tree may be checked out on: not a Windows device name (`CON`, `nul.txt`, `COM1`: the
/// stem before the first dot counts, in any case, per Microsoft's "Naming Files, Paths, and
/// Namespaces"), not ending in a dot (Windows strips it, so `a.` and `a` would collide), and not
/// the manifest's name.
pub fn check_directory_name(name: &str) -> Result<(), &'static str> {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        return Err("it is a reserved device name on Windows");
    }
    if name.ends_with('.') {
        return Err("it ends with a dot, which Windows drops");
    }
    if name.eq_ignore_ascii_case(MANIFEST_FILE_NAME) {
        return Err("it is the name of the manifest abrfw writes beside the host directories");
    }
    Ok(())
}

/// Checks an interface name: a letter, then `[A-Za-z0-9._-]`, at most 15 bytes.
pub fn check_interface(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_INTERFACE_LEN {
        return Err("it is too long");
    }
    if !name.as_bytes()[0].is_ascii_alphabetic() {
        return Err("it must start with a letter");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("it contains a character other than A-Z a-z 0-9 . _ -");
    }
    Ok(())
}

/// Checks free text that ends up in rule comments: printable, one line, bounded.
pub fn check_description(text: &str) -> Result<(), &'static str> {
    if text.chars().count() > MAX_DESCRIPTION_LEN {
        return Err("it is too long");
    }
    if text.chars().any(char::is_control) {
        return Err("it contains a control character (newline, tab, ...)");
    }
    // Unicode line separators end a line in some editors and shells; bidirectional overrides
    // make a comment read differently from what it is ("Trojan Source").
    if text.chars().any(|c| {
        matches!(c, '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }) {
        return Err("it contains a Unicode line separator or bidirectional control");
    }
    Ok(())
}

/// `10.0.0.1`, `10.0.0.0/24`, `fd00::10`, `fd00::/64`; a network with host bits set is refused.
pub(crate) fn parse_address(text: &str) -> Result<IpNet, String> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    match text.parse::<IpNet>() {
        Ok(net) if net.trunc() == net => Ok(net),
        Ok(net) => Err(format!(
            "{text} has host bits set: write {} for the network, or {} for one machine",
            net.trunc(),
            net.addr()
        )),
        Err(_) => Err(
            "write an IPv4 or IPv6 address (10.0.0.10, fd00::10) or network (10.0.0.0/24)".into(),
        ),
    }
}

/// `"8000-8100"` or `"8000"`, written canonically: digits only, no sign, no leading zero, no
/// space (`" 22"`, `"+22"` and `"022"` are refused: tools disagree on what they mean).
fn parse_port_range(text: &str) -> Option<PortRange> {
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    PortRange::new(canonical_port(a)?, canonical_port(b)?)
}

fn canonical_port(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../../fixtures/topologies/example.toml");

    /// Every truncation and a sweep of single-byte corruptions of a real topology either parse
    /// or give located errors; none panics, and every error points inside the text.
    #[test]
    fn damaged_input_never_panics() {
        let catalog = Catalog::builtin();
        let check = |text: &str| {
            if let Err(e) = parse("t.toml", text, &catalog) {
                assert!(!e.diagnostics.is_empty());
                for d in &e.diagnostics {
                    let span = d.span.clone().unwrap();
                    assert!(span.start <= span.end && span.end <= text.len(), "{span:?}");
                }
                let _ = e.to_string();
            }
        };
        for (i, _) in EXAMPLE.char_indices() {
            check(&EXAMPLE[..i]);
        }
        let bytes = EXAMPLE.as_bytes();
        for i in (0..bytes.len()).step_by(3) {
            for replacement in [b'"', b'[', b'=', b'\n', b'x', b'9'] {
                let mut damaged = bytes.to_vec();
                damaged[i] = replacement;
                if let Ok(text) = String::from_utf8(damaged) {
                    check(&text);
                }
            }
        }
    }

    #[test]
    fn an_expanded_allow_stays_small() {
        // A table from `all` is one Allow per host and port: 1.6 million for the site-wide
        // allows of docs/rollout.md at 100,000 hosts, 150 MB at this size (240 MB when each
        // held its own name, description and selectors).
        assert!(
            std::mem::size_of::<Allow>() <= 96,
            "{}",
            std::mem::size_of::<Allow>()
        );
    }

    #[test]
    fn the_os_selector_picks_the_hosts_of_that_os() {
        let catalog = Catalog::builtin();
        let site = |to: &str| {
            format!(
                "[[host]]\nname = \"w\"\nos = \"windows\"\naddresses = [\"10.0.0.1\"]\nroles = [\"agent\"]\n\
                 [[host]]\nname = \"xp\"\nos = \"windows-legacy\"\naddresses = [\"10.0.0.2\"]\nroles = [\"agent\"]\n\
                 [[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.3\"]\nroles = [\"agent\"]\n\
                 [[allow]]\nname = \"rdp\"\nfrom = \"10.99.0.0/24\"\nto = {to}\nservice = \"rdp\"\n"
            )
        };
        let targets = |to: &str| -> Vec<String> {
            let topo = parse("t.toml", &site(to), &catalog).unwrap_or_else(|e| panic!("{e}"));
            topo.allows
                .iter()
                .map(|a| match a.to {
                    AllowEnd::Host(i) => format!("{} ({})", topo.hosts[i].name, a.to_selector()),
                    AllowEnd::Network(n) => n.to_string(),
                })
                .collect()
        };
        assert_eq!(targets("\"os:windows\""), ["w (os:windows)"]);
        assert_eq!(
            targets("[\"os:windows\", \"os:windows-legacy\"]"),
            ["w (os:windows)", "xp (os:windows-legacy)"]
        );
        let err = parse("t.toml", &site("\"os:windws\""), &catalog).unwrap_err();
        let d = &err.diagnostics[0];
        assert_eq!(d.message, "unknown os \"windws\"");
        assert_eq!(d.help.as_deref(), Some("did you mean \"windows\"?"));
        let err = parse("t.toml", &site("\"os:macos\""), &catalog).unwrap_err();
        assert_eq!(
            err.diagnostics[0].message,
            "`to` \"os:macos\" selects no host"
        );
    }

    #[test]
    fn zones_and_gateway_interfaces_are_checked() {
        let catalog = Catalog::builtin();
        let host = "[[host]]\nname = \"a\"\naddresses = [\"10.0.0.1\"]\nroles = [\"agent\"]\nzone = \"srv\"\n";
        let errors = |text: &str| -> Vec<String> {
            match parse("t.toml", text, &catalog) {
                Ok(_) => Vec::new(),
                Err(e) => e.diagnostics.iter().map(|d| d.message.clone()).collect(),
            }
        };
        let text = format!(
            "{host}[[zone]]\nname = \"admin\"\nnetworks = [\"10.99.0.0/16\", \"10.98.0.1/24\"]\n\
             [[zone]]\nname = \"lab\"\nnetworks = [\"10.99.3.0/24\"]\n"
        );
        assert_eq!(
            errors(&text),
            [
                "invalid network \"10.98.0.1/24\"",
                "network 10.99.3.0/24 of zone \"lab\" overlaps network 10.99.0.0/16 of zone \"admin\""
            ]
        );
        // A [[zone]] without hosts is a zone a gateway may route; interfaces name all or none.
        let text = format!(
            "{host}[[zone]]\nname = \"admin\"\nnetworks = [\"10.99.0.0/24\"]\n\
             [[gateway]]\nname = \"gw\"\nos = \"linux\"\nzones = [\"srv\", \"admin\"]\ninterfaces = {{ srv = \"eth0\" }}\n"
        );
        assert_eq!(
            errors(&text),
            ["gateway \"gw\" names interfaces for some zones but not for \"admin\""]
        );
        let topo = parse(
            "t.toml",
            &text.replace("srv = \"eth0\"", "srv = \"eth0\", admin = \"eth2\""),
            &catalog,
        )
        .unwrap();
        assert_eq!(topo.gateways[0].interfaces(), Some(vec!["eth2", "eth0"]));
        assert_eq!(
            topo.zone_of_network("10.99.0.128/25".parse().unwrap()),
            Some("admin")
        );
        assert_eq!(topo.zone_of_network("10.99.0.0/23".parse().unwrap()), None);
    }

    #[test]
    fn directory_names_are_checked() {
        for good in [
            "console",
            "com10",
            "lpt",
            "nul-box",
            "con0",
            "a.b",
            "abrfw.json.d",
        ] {
            assert!(check_directory_name(good).is_ok(), "{good:?}");
        }
        for bad in [
            "CON",
            "con",
            "nul.txt",
            "Aux.site.local",
            "COM1",
            "lpt9.x",
            "host.",
            "ABRFW.JSON",
        ] {
            assert!(check_directory_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("web-01.example_x").is_ok());
        for bad in ["", "-x", ".x", "a b", "a;b", "a\"b", "é", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_description("Agents' syslog: \"quoted\" $x % | ^ ! ’").is_ok());
        for bad in ["a\nb", "a\u{2028}b", "a\u{202E}b", &"x".repeat(201)] {
            assert!(check_description(bad).is_err(), "{bad:?}");
        }
        assert!(check_interface("em0").is_ok());
        assert!(check_interface("0em").is_err());
        assert!(check_interface("averyveryverylongif").is_err());
    }
}
