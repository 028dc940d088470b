//! Which firewall dropped it, and why? The data behind `abrfw logs`: dropped-packet lines read
//! back from the logs the rule sets write with `log = "drops"`, each attributed to a cause by
//! asking [`Site::query`](crate::query::Site::query) about the connection it shows.
//!
//! Three log forms are read, one line at a time ([`Reader::line`]):
//! - kernel log lines of nftables `log` and iptables `LOG` (prefix [`LOG_PREFIX`], or ufw's
//!   `[UFW BLOCK]`), as `dmesg`, `dmesg -T`, `journalctl -k`, `/var/log/kern.log` (rsyslog) and
//!   `/dev/kmsg` print them: the `KEY=value` fields of the kernel's `nf_log_syslog` module;
//! - Windows Defender Firewall's `pfirewall.log`, the W3C extended log format: `#Fields:` names
//!   the columns, rows with action `DROP` are drops;
//! - `tcpdump -n -e -ttt -r /var/log/pflog` text of pf's pflog: `rule N/(match) block in on em0:
//!   SRC.PORT > DST.PORT: ...`, in the OpenBSD and the FreeBSD (libpcap 1.x) forms.
//!
//! A line that is no drop (another kernel message, an allowed packet, a header) is counted as
//! *other*; a drop line without the fields a cause needs is *unparsed*, with the reason. Neither
//! stops the reading.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::ir::{LOG_PREFIX, PortRange, Protocol};
use crate::query::{DropReason, HopAt, Query, Site, Verdict};

/// Where a drop line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// A kernel log line (nftables `log`, iptables `LOG`).
    Kernel,
    /// Windows Defender Firewall `pfirewall.log`.
    Pfirewall,
    /// `tcpdump` text of pf's pflog.
    Pflog,
}

/// Which chain dropped the packet, as the log line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDirection {
    /// Inbound (`abrfw-drop-in`, `RECEIVE`, `block in`).
    In,
    /// Outbound (`abrfw-drop-out`, `SEND`, `block out`).
    Out,
    /// Forwarded by a gateway (`abrfw-drop-fwd`, `FORWARD`).
    Fwd,
}

impl LogDirection {
    /// `in`, `out` or `fwd`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogDirection::In => "in",
            LogDirection::Out => "out",
            LogDirection::Fwd => "fwd",
        }
    }
}

/// One dropped packet, as a log line shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drop {
    /// The log form.
    pub format: LogFormat,
    /// The chain; `None` when the line does not say (ufw's prefix without interfaces).
    pub direction: Option<LogDirection>,
    /// The host name syslog or the journal put before `kernel:`, when present.
    pub logged_by: Option<String>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Source address.
    pub source: IpAddr,
    /// Destination address.
    pub destination: IpAddr,
    /// Source port.
    pub source_port: u16,
    /// Destination port.
    pub destination_port: u16,
    /// For TCP, the flags the line shows (`SYN`, `ACK`, ...); empty when it shows none.
    pub tcp_flags: Vec<&'static str>,
}

impl Drop {
    /// False for a TCP packet whose flags show it opens no connection (no SYN, or SYN with
    /// ACK): a late packet of a connection the firewall no longer tracks.
    pub fn opens_connection(&self) -> bool {
        self.protocol != Protocol::Tcp
            || self.tcp_flags.is_empty()
            || (self.tcp_flags.contains(&"SYN") && !self.tcp_flags.contains(&"ACK"))
    }
}

/// What one line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A dropped TCP or UDP packet.
    Drop(Drop),
    /// A dropped packet of another protocol (ICMP, ...): no port, no flow.
    OtherProtocol(String),
    /// No drop line: another message, an allowed packet, a header, a blank line.
    Other,
    /// A drop line without the fields a cause needs.
    Unparsed(String),
}

/// Reads the lines of one file in order (a `pfirewall.log` names its columns in a header).
#[derive(Debug, Default)]
pub struct Reader {
    fields: Option<Vec<String>>,
}

/// The columns of `pfirewall.log` when a file has lost its `#Fields:` header (a log cut by
/// `tail`): the W3C header Windows writes, version 1.5.
const PFIREWALL_FIELDS: &str = "date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path";

const TCP_FLAGS: [&str; 8] = ["SYN", "ACK", "FIN", "RST", "PSH", "URG", "ECE", "CWR"];

impl Reader {
    /// A reader at the start of a file.
    pub fn new() -> Self {
        Self::default()
    }

    /// What this line is.
    pub fn line(&mut self, text: &str) -> Line {
        let text = text.trim_end_matches(['\r', '\n']);
        if let Some(at) = text.find(LOG_PREFIX) {
            return kernel(text, at, LOG_PREFIX.len());
        }
        if let Some(at) = text.find("[UFW BLOCK]") {
            return kernel(text, at, "[UFW BLOCK]".len());
        }
        let trimmed = text.trim_start();
        if let Some(header) = trimmed.strip_prefix('#') {
            if let Some(fields) = header.strip_prefix("Fields:") {
                self.fields = Some(fields.split_whitespace().map(str::to_owned).collect());
            }
            return Line::Other;
        }
        if is_w3c_row(trimmed) {
            return self.pfirewall(trimmed);
        }
        if let Some(at) = pflog_block(text) {
            return pflog(text, at);
        }
        Line::Other
    }

    fn pfirewall(&self, row: &str) -> Line {
        let default: Vec<String>;
        let fields = match &self.fields {
            Some(f) => f,
            None => {
                default = PFIREWALL_FIELDS
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                &default
            }
        };
        let values: BTreeMap<&str, &str> = fields
            .iter()
            .map(String::as_str)
            .zip(row.split_whitespace())
            .collect();
        if values.get("action") != Some(&"DROP") {
            return Line::Other;
        }
        let protocol = match values.get("protocol").copied() {
            Some("TCP") => Protocol::Tcp,
            Some("UDP") => Protocol::Udp,
            Some(other) => return Line::OtherProtocol(other.to_owned()),
            None => return Line::Unparsed("no protocol column".to_owned()),
        };
        let address = |k: &str| -> Result<IpAddr, String> {
            let v = values.get(k).ok_or_else(|| format!("no {k} column"))?;
            v.parse().map_err(|_| format!("{k} {v:?} is no IP address"))
        };
        let port = |k: &str| -> Result<u16, String> {
            let v = values.get(k).ok_or_else(|| format!("no {k} column"))?;
            v.parse().map_err(|_| format!("{k} {v:?} is no port"))
        };
        let parsed = (|| -> Result<Drop, String> {
            let tcp_flags = match (protocol, values.get("tcpflags")) {
                (Protocol::Tcp, Some(flags)) => flags
                    .chars()
                    .filter_map(|c| match c {
                        'S' => Some("SYN"),
                        'A' => Some("ACK"),
                        'F' => Some("FIN"),
                        'R' => Some("RST"),
                        'P' => Some("PSH"),
                        'U' => Some("URG"),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Ok(Drop {
                format: LogFormat::Pfirewall,
                direction: match values.get("path").copied() {
                    Some("RECEIVE") => Some(LogDirection::In),
                    Some("SEND") => Some(LogDirection::Out),
                    Some("FORWARD") => Some(LogDirection::Fwd),
                    _ => None,
                },
                logged_by: None,
                protocol,
                source: address("src-ip")?,
                destination: address("dst-ip")?,
                source_port: port("src-port")?,
                destination_port: port("dst-port")?,
                tcp_flags,
            })
        })();
        parsed.map_or_else(Line::Unparsed, Line::Drop)
    }
}

/// A W3C row of `pfirewall.log`: `YYYY-MM-DD HH:MM:SS ACTION ...`.
fn is_w3c_row(row: &str) -> bool {
    let mut words = row.split_whitespace();
    let (Some(date), Some(time), Some(action)) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    let date_ok = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let time_ok = time.len() == 8 && time.bytes().filter(|b| *b == b':').count() == 2;
    date_ok && time_ok && action.bytes().all(|b| b.is_ascii_uppercase() || b == b'-')
}

/// A kernel line: `... <prefix>[-in|-out|-fwd] IN=eth0 OUT= ... SRC=... DST=... PROTO=TCP
/// SPT=... DPT=... ... SYN ...`.
fn kernel(text: &str, at: usize, prefix_len: usize) -> Line {
    let rest = &text[at + prefix_len..];
    let (named, rest) = match rest.split_once(char::is_whitespace) {
        Some((tag, rest)) => (tag, rest),
        None => (rest, ""),
    };
    let mut direction = match named {
        "-in" => Some(LogDirection::In),
        "-out" => Some(LogDirection::Out),
        "-fwd" => Some(LogDirection::Fwd),
        _ => None,
    };
    let logged_by = text[..at]
        .split_once(" kernel:")
        .and_then(|(before, _)| before.split_whitespace().last())
        .map(str::to_owned);
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    let mut flags = Vec::new();
    for word in rest.split_whitespace() {
        // An ICMP error quotes the packet it answers in brackets: the outer fields come first.
        if word.starts_with('[') {
            break;
        }
        match word.split_once('=') {
            Some((k, v)) => {
                fields.entry(k).or_insert(v);
            }
            None => {
                if let Some(f) = TCP_FLAGS.iter().find(|f| **f == word) {
                    flags.push(*f);
                }
            }
        }
    }
    if direction.is_none() {
        let dev = |k: &str| fields.get(k).is_some_and(|v| !v.is_empty());
        direction = match (dev("IN"), dev("OUT")) {
            (true, true) => Some(LogDirection::Fwd),
            (true, false) => Some(LogDirection::In),
            (false, true) => Some(LogDirection::Out),
            (false, false) => None,
        };
    }
    let protocol = match fields.get("PROTO").copied() {
        Some("TCP") => Protocol::Tcp,
        Some("UDP") => Protocol::Udp,
        Some(other) => return Line::OtherProtocol(other.to_owned()),
        None => return Line::Unparsed("no PROTO= field".to_owned()),
    };
    let parsed = (|| -> Result<Drop, String> {
        let address = |k: &str| -> Result<IpAddr, String> {
            let v = fields.get(k).ok_or_else(|| format!("no {k}= field"))?;
            v.parse().map_err(|_| format!("{k}={v} is no IP address"))
        };
        let port = |k: &str| -> Result<u16, String> {
            let v = fields.get(k).ok_or_else(|| format!("no {k}= field"))?;
            v.parse().map_err(|_| format!("{k}={v} is no port"))
        };
        Ok(Drop {
            format: LogFormat::Kernel,
            direction,
            logged_by,
            protocol,
            source: address("SRC")?,
            destination: address("DST")?,
            source_port: port("SPT")?,
            destination_port: port("DPT")?,
            tcp_flags: if protocol == Protocol::Tcp {
                flags
            } else {
                Vec::new()
            },
        })
    })();
    parsed.map_or_else(Line::Unparsed, Line::Drop)
}

/// Where `block in on IF: ` or `block out on IF: ` starts in a pflog line, after `rule ...`.
fn pflog_block(text: &str) -> Option<(usize, LogDirection)> {
    if !text.contains("rule ") {
        return None;
    }
    for (needle, dir) in [
        ("block in on ", LogDirection::In),
        ("block out on ", LogDirection::Out),
    ] {
        if let Some(at) = text.find(needle) {
            return Some((at + needle.len(), dir));
        }
    }
    None
}

/// `IF: [(tos ..., ...) ]SRC.SPORT > DST.DPORT: Flags [S], ...` (FreeBSD, libpcap 1.x) or
/// `... : S 123:123(0) win ...` (OpenBSD), `: UDP, length 12` or `: udp 12`.
fn pflog(text: &str, (at, direction): (usize, LogDirection)) -> Line {
    let Some((_, mut rest)) = text[at..].split_once(": ") else {
        return Line::Unparsed("no `interface: ` after `block`".to_owned());
    };
    // `tcpdump -v` puts the IP header in parentheses before the addresses.
    if rest.starts_with('(') {
        match rest.find(") ") {
            Some(end) => rest = rest[end + 2..].trim_start(),
            None => return Line::Unparsed("unclosed `(` of the IP header".to_owned()),
        }
    }
    let Some((source, rest)) = rest.split_once(" > ") else {
        return Line::Unparsed("no `SOURCE > DESTINATION`".to_owned());
    };
    let Some((destination, what)) = rest.split_once(": ") else {
        return Line::Unparsed("no `:` after the destination".to_owned());
    };
    let what = what.trim_start();
    let first = what.split([' ', ',']).next().unwrap_or("");
    let (protocol, tcp_flags) = if let Some(f) = what.strip_prefix("Flags [") {
        let f = f.split(']').next().unwrap_or("");
        (Protocol::Tcp, pf_flags(f))
    } else if first.eq_ignore_ascii_case("udp") {
        (Protocol::Udp, Vec::new())
    } else if !first.is_empty() && first.bytes().all(|b| b"SFRPUEW.".contains(&b)) {
        (Protocol::Tcp, pf_flags(first))
    } else if first.eq_ignore_ascii_case("icmp") || first.eq_ignore_ascii_case("icmp6") {
        return Line::OtherProtocol(first.to_ascii_uppercase());
    } else {
        return Line::Unparsed(format!("cannot tell TCP or UDP from {first:?}"));
    };
    let split = |s: &str| -> Result<(IpAddr, u16), String> {
        let (a, p) = s
            .rsplit_once('.')
            .ok_or_else(|| format!("{s:?} has no .PORT"))?;
        let a = a.parse().map_err(|_| format!("{a:?} is no IP address"))?;
        let p = p.parse().map_err(|_| format!("{p:?} is no port"))?;
        Ok((a, p))
    };
    let parsed = (|| -> Result<Drop, String> {
        let (source, source_port) = split(source.trim())?;
        let (destination, destination_port) = split(destination.trim())?;
        Ok(Drop {
            format: LogFormat::Pflog,
            direction: Some(direction),
            logged_by: None,
            protocol,
            source,
            destination,
            source_port,
            destination_port,
            tcp_flags,
        })
    })();
    parsed.map_or_else(Line::Unparsed, Line::Drop)
}

/// tcpdump's TCP flag letters: `S` SYN, `.` ACK, `F`, `R`, `P`, `U`, `E`, `W`.
fn pf_flags(f: &str) -> Vec<&'static str> {
    f.chars()
        .filter_map(|c| match c {
            'S' => Some("SYN"),
            '.' => Some("ACK"),
            'F' => Some("FIN"),
            'R' => Some("RST"),
            'P' => Some("PSH"),
            'U' => Some("URG"),
            'E' => Some("ECE"),
            'W' => Some("CWR"),
            _ => None,
        })
        .collect()
}

/// Why a packet was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum Cause {
    /// The hop that logged it drops this connection, for this reason (a documented flow the
    /// topology does not enable, a wrong source port, an unknown peer, no documented flow, ...).
    Dropped(DropReason),
    /// A TCP packet that opens no connection: a late packet of one the firewall no longer tracks
    /// (after a reload or a reboot, or a reply after the state timed out), not a missing rule.
    NotNew {
        /// The flags the line shows.
        flags: Vec<&'static str>,
    },
    /// The topology allows this connection at the hop that logged it: the rules on the host
    /// are not the ones the topology compiles to (not applied yet, or edited by hand).
    AllowedByTopology {
        /// The flow that allows it.
        flow: String,
    },
    /// Neither end is a host abrfw writes rules for, or the hop is none of the site's.
    NotOfTheSite,
}

impl Cause {
    /// The summary key: the kind of cause and the flow it names.
    pub fn key(&self) -> String {
        match self {
            Cause::Dropped(r) => match r {
                DropReason::FlowNotApplied(n) => {
                    let why: Vec<String> = n.why.iter().map(ToString::to_string).collect();
                    format!("flow not enabled: {} ({})", n.flow, why.join("; "))
                }
                DropReason::WrongSourcePort { flow, allowed, .. } => {
                    format!("wrong source port: {flow} allows {allowed}")
                }
                DropReason::PeerUnknown { .. } => "peer unknown to the site".to_owned(),
                DropReason::ReverseDirection { flow } => {
                    format!("wrong direction: {flow} is opened by the other end")
                }
                DropReason::GatewayForwardsNoSuchFlow => "gateway forwards no such flow".to_owned(),
                DropReason::Undocumented => "undocumented connection".to_owned(),
            },
            Cause::NotNew { .. } => "not a new connection (state lost)".to_owned(),
            Cause::AllowedByTopology { flow } => {
                format!("allowed by the topology ({flow}): rules not applied?")
            }
            Cause::NotOfTheSite => "not of the site".to_owned(),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Dropped(r) => write!(f, "{r}"),
            Cause::NotNew { flags } => write!(
                f,
                "a TCP packet with flags {} opens no connection: a late packet of a connection the firewall no longer tracks (rules reloaded, host rebooted, state timed out), not a missing rule",
                flags.join(",")
            ),
            Cause::AllowedByTopology { flow } => write!(
                f,
                "the topology allows this at this hop ({flow}): the host runs other rules than the topology compiles to; run `abrfw diff` and apply"
            ),
            Cause::NotOfTheSite => f.write_str(
                "no host of the site filters this hop: the line was logged by another firewall or for another address",
            ),
        }
    }
}

/// One drop, attributed: where it was dropped and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// The hop that dropped it (host or gateway), when the site has it.
    pub at: Option<HopAt>,
    /// The source's host name, when it is one of the site.
    pub source_host: Option<String>,
    /// The destination's host name, when it is one of the site.
    pub destination_host: Option<String>,
    /// Every cause, most specific first.
    pub causes: Vec<Cause>,
}

/// Attributes one drop: asks the site about the connection the line shows and takes the
/// verdict of the hop that logged it.
pub fn attribute(site: &Site<'_>, d: &Drop) -> Attribution {
    let name = |a: IpAddr| site.host_with(a).map(|h| h.name.clone());
    let mut out = Attribution {
        at: None,
        source_host: name(d.source),
        destination_host: name(d.destination),
        causes: Vec::new(),
    };
    let question = Query {
        from: d.source.to_string(),
        to: d.destination.to_string(),
        port: d.destination_port,
        protocol: d.protocol,
        source_port: Some(d.source_port),
        family: None,
    };
    let Ok(answer) = site.query(&question) else {
        out.causes.push(Cause::NotOfTheSite);
        return out;
    };
    // A line that names a gateway (its syslog host name, or `abrfw logs --host`) was dropped
    // by that gateway, whatever chain pf or the kernel calls it.
    let by_gateway = d.logged_by.as_deref().and_then(|by| {
        answer.hops.iter().find(
            |h| matches!(&h.at, HopAt::Forward { gateway, .. } if gateway.eq_ignore_ascii_case(by)),
        )
    });
    let hop = by_gateway.or_else(|| match d.direction {
        Some(LogDirection::Out) => answer.hops.first(),
        Some(LogDirection::In) => answer.hops.last(),
        Some(LogDirection::Fwd) => answer
            .hops
            .iter()
            .filter(|h| matches!(h.at, HopAt::Forward { .. }))
            .find(|h| !h.verdict.passes())
            .or_else(|| {
                answer
                    .hops
                    .iter()
                    .find(|h| matches!(h.at, HopAt::Forward { .. }))
            }),
        None => answer
            .hops
            .iter()
            .find(|h| !h.verdict.passes())
            .or(answer.hops.last()),
    });
    let Some(hop) = hop else {
        out.causes.push(Cause::NotOfTheSite);
        return out;
    };
    out.at = Some(hop.at.clone());
    if !d.opens_connection() {
        out.causes.push(Cause::NotNew {
            flags: d.tcp_flags.clone(),
        });
        return out;
    }
    match &hop.verdict {
        Verdict::Drop { reasons } | Verdict::NotAllowedByFragment { reasons } => {
            out.causes
                .extend(reasons.iter().cloned().map(Cause::Dropped));
            // At a gateway, the ends say more than "no such flow": which flow is missing.
            if matches!(hop.at, HopAt::Forward { .. })
                && reasons == &[DropReason::GatewayForwardsNoSuchFlow]
            {
                let ends = answer
                    .hops
                    .iter()
                    .filter(|h| !matches!(h.at, HopAt::Forward { .. }));
                for h in ends {
                    if let Verdict::Drop { reasons } | Verdict::NotAllowedByFragment { reasons } =
                        &h.verdict
                    {
                        out.causes
                            .extend(reasons.iter().cloned().map(Cause::Dropped));
                        break;
                    }
                }
            }
        }
        Verdict::Allow(decider) => out.causes.push(Cause::AllowedByTopology {
            flow: decider.flow.clone(),
        }),
        // An `outbound = "accept"` host logged an outbound drop: its rules are not the ones
        // the topology compiles to, as for a connection a flow allows.
        Verdict::OutboundAccepted => out.causes.push(Cause::AllowedByTopology {
            flow: "outbound = \"accept\"".to_owned(),
        }),
        Verdict::NotFiltered { .. } => out.causes.push(Cause::NotOfTheSite),
    }
    out
}

/// Drops of one connection with the same attribution, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// How many lines.
    pub count: usize,
    /// The first line, `file:line`.
    pub first: String,
    /// The log form.
    pub format: LogFormat,
    /// The chain the lines name.
    pub direction: Option<LogDirection>,
    /// Host names the lines were logged by, sorted.
    pub logged_by: Vec<String>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Source address.
    pub source: IpAddr,
    /// Destination address.
    pub destination: IpAddr,
    /// Destination port.
    pub destination_port: u16,
    /// The lowest and the highest source port seen.
    pub source_ports: PortRange,
    /// Where and why.
    pub attribution: Attribution,
}

/// One line of a summary table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The host, port (`tcp/9876`) or cause.
    pub key: String,
    /// How many drops.
    pub count: usize,
}

/// Drops collected from any number of lines, attributed once per connection.
#[derive(Debug)]
pub struct Collector<'s, 'a> {
    site: &'s Site<'a>,
    // Keyed by what decides the attribution; the source port only matters against a range,
    // so it is part of the key.
    groups: BTreeMap<GroupKey, Group>,
}

type GroupKey = (
    Option<LogDirection>,
    Protocol,
    IpAddr,
    IpAddr,
    u16,
    u16,
    bool,
);

impl<'s, 'a> Collector<'s, 'a> {
    /// An empty collection for this site.
    pub fn new(site: &'s Site<'a>) -> Self {
        Self {
            site,
            groups: BTreeMap::new(),
        }
    }

    /// Adds one drop, read at `place` (`file:line`).
    pub fn add(&mut self, d: Drop, place: impl FnOnce() -> String) {
        let key = (
            d.direction,
            d.protocol,
            d.source,
            d.destination,
            d.destination_port,
            d.source_port,
            d.opens_connection(),
        );
        if let Some(g) = self.groups.get_mut(&key) {
            g.count += 1;
            if let Some(h) = &d.logged_by
                && !g.logged_by.contains(h)
            {
                g.logged_by.push(h.clone());
                g.logged_by.sort();
            }
            return;
        }
        let attribution = attribute(self.site, &d);
        self.groups.insert(
            key,
            Group {
                count: 1,
                first: place(),
                format: d.format,
                direction: d.direction,
                logged_by: d.logged_by.into_iter().collect(),
                protocol: d.protocol,
                source: d.source,
                destination: d.destination,
                destination_port: d.destination_port,
                source_ports: PortRange::single(d.source_port),
                attribution,
            },
        );
    }

    /// The groups, one per connection and attribution (source ports with the same causes are
    /// merged into one range), in address order; and the counts by host, port and cause.
    pub fn finish(self) -> Summary {
        let mut merged: Vec<Group> = Vec::new();
        for g in self.groups.into_values() {
            if let Some(last) = merged.last_mut()
                && last.direction == g.direction
                && last.protocol == g.protocol
                && last.source == g.source
                && last.destination == g.destination
                && last.destination_port == g.destination_port
                && last.attribution == g.attribution
            {
                last.count += g.count;
                last.source_ports.last = g.source_ports.last;
                for h in g.logged_by {
                    if !last.logged_by.contains(&h) {
                        last.logged_by.push(h);
                    }
                }
                last.logged_by.sort();
                continue;
            }
            merged.push(g);
        }
        let count = |key: &dyn Fn(&Group) -> Vec<String>| -> Vec<Count> {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            for g in &merged {
                for k in key(g) {
                    *m.entry(k).or_default() += g.count;
                }
            }
            let mut v: Vec<Count> = m
                .into_iter()
                .map(|(key, count)| Count { key, count })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
            v
        };
        let by_host = count(&|g| {
            vec![match &g.attribution.at {
                Some(at) => at.to_string(),
                None => g
                    .logged_by
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "(not of the site)".to_owned()),
            }]
        });
        let by_port = count(&|g| vec![format!("{}/{}", g.protocol.as_str(), g.destination_port)]);
        let by_cause = count(&|g| {
            g.attribution
                .causes
                .first()
                .map(Cause::key)
                .into_iter()
                .collect()
        });
        Summary {
            drops: merged.iter().map(|g| g.count).sum(),
            groups: merged,
            by_host,
            by_port,
            by_cause,
        }
    }
}

/// Every drop read, attributed and counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// How many drop lines.
    pub drops: usize,
    /// Drops by hop (`ams inbound`), most first.
    pub by_host: Vec<Count>,
    /// Drops by destination port, most first.
    pub by_port: Vec<Count>,
    /// Drops by their first cause, most first.
    pub by_cause: Vec<Count>,
    /// One entry per connection and attribution.
    pub groups: Vec<Group>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop_of(line: &str) -> Drop {
        match Reader::new().line(line) {
            Line::Drop(d) => d,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn kernel_lines_in_every_form() {
        let fields = "abrfw-drop-in IN=eth0 OUT= MAC=7a:76:8f:eb:6b:7b:8e:e3:8b:f0:b1:f1:08:00 SRC=198.51.100.31 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=18651 DF PROTO=TCP SPT=1030 DPT=9876 WINDOW=64240 RES=0x00 SYN URGP=0 ";
        for prefix in [
            "[36044.953663] ",
            "[Thu Dec  3 06:12:00 2026] ",
            "Dec 03 06:12:00 ams-gw kernel: ",
            "Dec  3 06:12:00 ams-gw kernel: [36044.953663] ",
            "2026-12-03T06:12:00.123456+00:00 ams-gw kernel: [36044.953663] ",
            "6,1234,36044953663,-;",
        ] {
            let d = drop_of(&format!("{prefix}{fields}"));
            assert_eq!(d.direction, Some(LogDirection::In));
            assert_eq!(d.protocol, Protocol::Tcp);
            assert_eq!(d.source_port, 1030);
            assert_eq!(d.destination_port, 9876);
            assert_eq!(d.tcp_flags, ["SYN"]);
            assert!(d.opens_connection());
            let host = prefix.contains("kernel:").then(|| "ams-gw".to_owned());
            assert_eq!(d.logged_by, host, "{prefix}");
        }
    }

    #[test]
    fn kernel_ipv6_udp_and_others() {
        let d = drop_of(
            "abrfw-drop-out IN= OUT=eth0 SRC=2001:0db8:0000:0020:0000:0000:0000:0040 DST=2001:0db8:0000:0010:0000:0000:0000:0010 LEN=31 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=UDP SPT=48118 DPT=9876 LEN=11",
        );
        assert_eq!(d.direction, Some(LogDirection::Out));
        assert_eq!(d.source, "2001:db8:0:20::40".parse::<IpAddr>().unwrap());
        assert_eq!(d.protocol, Protocol::Udp);
        let mut r = Reader::new();
        assert_eq!(
            r.line("[1.0] abrfw-drop-in IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=ICMP TYPE=8 CODE=0"),
            Line::OtherProtocol("ICMP".to_owned())
        );
        assert_eq!(
            r.line("[1.0] abrfw-drop-in IN=eth0 OUT= SRC=192.0.2.1 PROTO=TCP SPT=1 DPT=2"),
            Line::Unparsed("no DST= field".to_owned())
        );
        assert_eq!(r.line("[1.0] e1000: eth0 NIC Link is Up"), Line::Other);
        let ufw = drop_of(
            "Dec  3 06:12:00 agent kernel: [UFW BLOCK] IN=eth0 OUT= MAC= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP SPT=40000 DPT=22 WINDOW=1 RES=0x00 ACK URGP=0",
        );
        assert_eq!(ufw.direction, Some(LogDirection::In));
        assert!(!ufw.opens_connection());
    }

    #[test]
    fn pfirewall_rows_follow_the_fields_header() {
        let mut r = Reader::new();
        assert_eq!(r.line("#Version: 1.5"), Line::Other);
        assert_eq!(
            r.line("#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path pid"),
            Line::Other
        );
        let Line::Drop(d) =
            r.line("2026-12-03 06:10:01 DROP TCP 198.51.100.31 192.0.2.10 1030 9876 0 - 0 0 0 - - - RECEIVE 4")
        else {
            panic!("no drop");
        };
        assert_eq!(d.format, LogFormat::Pfirewall);
        assert_eq!(d.direction, Some(LogDirection::In));
        assert_eq!(d.destination_port, 9876);
        assert_eq!(
            r.line("2026-12-03 06:10:01 ALLOW TCP 198.51.100.31 192.0.2.10 1030 9876 0 - 0 0 0 - - - SEND 4"),
            Line::Other
        );
        assert!(matches!(
            r.line("2026-12-03 06:10:01 DROP TCP 198.51.100.31 192.0.2.10 x 9876 0 - 0 0 0 - - - SEND 4"),
            Line::Unparsed(_)
        ));
    }

    #[test]
    fn pflog_in_openbsd_and_freebsd_forms() {
        let o = drop_of(
            "Dec 03 06:10:01.123456 rule 1/(match) block in on em1: 198.51.100.40.40312 > 203.0.113.45.2049: S 3003:3003(0) win 16384 <mss 1460> (DF)",
        );
        assert_eq!(o.direction, Some(LogDirection::In));
        assert_eq!(o.protocol, Protocol::Tcp);
        assert_eq!(o.tcp_flags, ["SYN"]);
        assert_eq!(o.destination_port, 2049);
        let f = drop_of(
            "00:00:00.000000 rule 0/0(match): block out on em0: 2001:db8:0:30::45.51000 > 2001:db8:0:10::10.9876: Flags [S], seq 1, win 65535, length 0",
        );
        assert_eq!(f.direction, Some(LogDirection::Out));
        assert_eq!(f.source_port, 51000);
        let u = drop_of(
            "00:00:01.000000 rule 0/0(match): block in on em0: 198.51.100.40.5353 > 203.0.113.45.111: UDP, length 40",
        );
        assert_eq!(u.protocol, Protocol::Udp);
        let mut r = Reader::new();
        assert_eq!(
            r.line("00:00:01.000000 rule 0/0(match): block in on em0: 198.51.100.40 > 203.0.113.45: ICMP echo request, id 1, seq 1, length 64"),
            Line::OtherProtocol("ICMP".to_owned())
        );
        assert_eq!(
            r.line("00:00:01.000000 rule 2/(match) pass in on em0: 198.51.100.40.1 > 203.0.113.45.22: S 1:1(0) win 1"),
            Line::Other
        );
    }
}
