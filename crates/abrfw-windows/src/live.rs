//! `abrfw verify` for `firewall.ps1`: reads the JSON `firewall.ps1 -Export` prints into a
//! neutral [`State`], and says which [`State`] a Windows host's `firewall.ps1` loads.
//!
//! The export holds the profiles (`Get-NetFirewallProfile`) and the rules of group
//! [`GROUP`](crate::mapping::GROUP) with their port and address filters (`Get-NetFirewallRule`,
//! `Get-NetFirewallPortFilter`, `Get-NetFirewallAddressFilter`). A rule of the shape abrfw
//! writes (enabled, Allow, TCP or UDP, local address Any, numeric ports, remote addresses)
//! becomes one allow rule per address family, read back the way [`crate::mapping::rules`]
//! maps an IR rule: inbound, the local port is the responder's port and the remote port the
//! initiator's source ports; outbound the reverse. Its flow id comes from the rule name
//! (`abrfw:<host>:<in|out>:<flow>:<n>[.<k>]`). Any other rule in the group is an
//! [`OtherRule`] in place [`PLACE`]. The profiles give the policies (`profile Domain` enabled,
//! `profile Domain inbound` block, ...), which are compared only under policy drop: a
//! fragment's profiles belong to the site.
//!
//! PowerShell does not run where abrfw is tested: this reading follows the template's own
//! export code and the values the NetSecurity cmdlets document, not a live Windows.

use std::net::IpAddr;

use abrfw_core::ipnet::IpNet;
use abrfw_core::verify::{AddressSet, AllowRule, LiveError, OtherRule, State};
use abrfw_core::{Direction, Family, HostRules, Policy, PortRange, Protocol};
use serde::Deserialize;

use crate::Options;
use crate::mapping::{self, NAME_PREFIX};

/// The command whose output `abrfw verify` reads (from cmd.exe, in the directory of the host's
/// files).
pub const LIVE_COMMAND: &str = "powershell.exe -NoProfile -ExecutionPolicy Bypass -File firewall.ps1 -Export > firewall.live.json";

/// The file [`LIVE_COMMAND`] writes, and `verify --tree DIR` reads as `DIR/<host>/<file>`.
pub const LIVE_FILE: &str = "firewall.live.json";

/// Where the rules of abrfw's group ([`crate::mapping::GROUP`]) sit, for
/// [`OtherRule::place`] and the fragment scope.
pub const PLACE: &str = "group abrfw";

/// The profiles `Set-NetFirewallProfile -All` sets.
const PROFILES: [&str; 3] = ["Domain", "Private", "Public"];

const HINT: &str = "give the JSON that `firewall.ps1 -Export` prints (Windows 8 / Server 2012 \
                    or later; windows-legacy hosts have no export)";

/// The state `firewall.ps1` loads for `host`: its rules as [`crate::mapping::rules`] renders
/// them (a list split by the address limit is several rules, compared as their union), read
/// back as the export would show them; under policy drop every profile enabled, inbound
/// Block and outbound Block (Allow for `outbound = "accept"`).
pub fn expected(host: &HostRules) -> State {
    let mut state = State::default();
    for rule in mapping::rules(host, &Options::default(), None) {
        let export = ExportRule {
            name: rule.name.clone(),
            display_name: rule.name,
            direction: match rule.direction {
                Direction::Inbound => "Inbound",
                Direction::Outbound => "Outbound",
            }
            .to_owned(),
            action: "Allow".to_owned(),
            enabled: Flag::Bool(true),
            protocol: match rule.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
            }
            .to_owned(),
            local_port: Texts(vec![
                rule.local_port
                    .map_or_else(|| "Any".to_owned(), mapping::port),
            ]),
            remote_port: Texts(vec![
                rule.remote_port
                    .map_or_else(|| "Any".to_owned(), mapping::port),
            ]),
            local_address: Texts(vec!["Any".to_owned()]),
            remote_address: Texts(rule.remote),
            icmp_type: Texts(vec!["Any".to_owned()]),
        };
        match allows(&export) {
            Some(list) => state.allows.extend(list),
            // The mapping's own forms always read back; a rule that did not would show as
            // missing against any live state.
            None => state.others.push(other(&export)),
        }
    }
    match host.policy {
        Policy::Drop => {
            let outbound = if host.drops_outbound() {
                "block"
            } else {
                "allow"
            };
            for p in PROFILES {
                state
                    .policies
                    .insert(format!("profile {p}"), "enabled".to_owned());
                state
                    .policies
                    .insert(format!("profile {p} inbound"), "block".to_owned());
                state
                    .policies
                    .insert(format!("profile {p} outbound"), outbound.to_owned());
            }
        }
        Policy::Fragment => state.scope = Some(vec![PLACE.to_owned()]),
    }
    state
}

/// The document `firewall.ps1 -Export` prints.
#[derive(Deserialize)]
struct Export {
    abrfw_export: u32,
    #[serde(default)]
    profiles: OneOrMany<Profile>,
    #[serde(default)]
    rules: OneOrMany<ExportRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Profile {
    name: String,
    enabled: Flag,
    default_inbound_action: String,
    default_outbound_action: String,
}

/// One rule with its filters, as the export prints it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExportRule {
    name: String,
    #[serde(default)]
    display_name: String,
    direction: String,
    action: String,
    enabled: Flag,
    protocol: String,
    #[serde(default)]
    local_port: Texts,
    #[serde(default)]
    remote_port: Texts,
    #[serde(default)]
    local_address: Texts,
    #[serde(default)]
    remote_address: Texts,
    #[serde(default)]
    icmp_type: Texts,
}

/// A JSON list, or its one element bare (ConvertTo-Json unwraps one-element arrays in some
/// PowerShell versions), or null for none. Read through a visitor, so an element that does not
/// fit keeps serde_json's message and location.
struct OneOrMany<T>(Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{
            BoolDeserializer, MapAccessDeserializer, StrDeserializer, U64Deserializer,
        };
        use serde::de::{Error, MapAccess, SeqAccess, Visitor};

        struct V<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list, one value, or null")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(OneOrMany(out))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ok(OneOrMany(vec![T::deserialize(
                    MapAccessDeserializer::new(map),
                )?]))
            }

            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(StrDeserializer::new(v))?]))
            }

            fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(U64Deserializer::new(v))?]))
            }

            fn visit_bool<E: Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(BoolDeserializer::new(v))?]))
            }

            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }

            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
        }

        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A list of strings: `"9876"`, `["9876"]`, null, or numbers (`9876`) where a PowerShell
/// version printed them unquoted; null elements are left out.
#[derive(Default)]
struct Texts(Vec<String>);

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = OneOrMany::<Text>::deserialize(d)?;
        Ok(Self(items.0.into_iter().filter_map(|t| t.0).collect()))
    }
}

/// One string, a number as its text, or null (`None`).
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, Visitor};

        struct V;

        impl Visitor<'_> for V {
            type Value = Text;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }

            fn visit_u64<E: Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }

            fn visit_i64<E: Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }

            fn visit_unit<E: Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
        }

        d.deserialize_any(V)
    }
}

/// `true`/`false`, or the strings `True`/`False` (what `[string]$_.Enabled` gives).
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn on(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(s) => s.eq_ignore_ascii_case("true"),
        }
    }
}

/// Reads the JSON `firewall.ps1 -Export` prints (a UTF-8 byte-order mark is skipped).
pub fn parse_live(text: &str) -> Result<State, LiveError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let export: Export = serde_json::from_str(body).map_err(|e| {
        let message = e.to_string();
        // serde_json ends its message with the location, which LiveError carries itself.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        let what = if e.is_syntax() || e.is_eof() {
            "not JSON"
        } else {
            "not the export of firewall.ps1"
        };
        LiveError::new(
            e.line().max(1),
            e.column().max(1),
            format!("{what}: {message}"),
            HINT,
        )
    })?;
    if export.abrfw_export != 1 {
        return Err(LiveError::new(
            1,
            1,
            format!(
                "abrfw_export {} is not a version this abrfw reads (1)",
                export.abrfw_export
            ),
            HINT,
        ));
    }
    let mut state = State::default();
    for p in &export.profiles.0 {
        let name = &p.name;
        let enabled = if p.enabled.on() {
            "enabled"
        } else {
            "disabled"
        };
        state
            .policies
            .insert(format!("profile {name}"), enabled.to_owned());
        state.policies.insert(
            format!("profile {name} inbound"),
            p.default_inbound_action.to_ascii_lowercase(),
        );
        state.policies.insert(
            format!("profile {name} outbound"),
            p.default_outbound_action.to_ascii_lowercase(),
        );
    }
    for rule in &export.rules.0 {
        match allows(rule) {
            Some(list) => state.allows.extend(list),
            None => state.others.push(other(rule)),
        }
    }
    Ok(state)
}

/// The rule as allow rules (one per address family and port combination), when it has the
/// shape abrfw writes.
fn allows(rule: &ExportRule) -> Option<Vec<AllowRule>> {
    let direction = match rule.direction.to_ascii_lowercase().as_str() {
        "inbound" => Direction::Inbound,
        "outbound" => Direction::Outbound,
        _ => return None,
    };
    let protocol = match rule.protocol.to_ascii_uppercase().as_str() {
        "TCP" | "6" => Protocol::Tcp,
        "UDP" | "17" => Protocol::Udp,
        _ => return None,
    };
    if !rule.action.eq_ignore_ascii_case("allow") || !rule.enabled.on() {
        return None;
    }
    if !all_any(&rule.local_address) || !(rule.icmp_type.0.is_empty() || all_any(&rule.icmp_type)) {
        return None;
    }
    let local = port_list(&rule.local_port)?;
    let remote = port_list(&rule.remote_port)?;
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    if rule.remote_address.0.is_empty() {
        return None;
    }
    for a in &rule.remote_address.0 {
        if a.eq_ignore_ascii_case("any") {
            v4.push((IpAddr::from([0u8; 4]), IpAddr::from([255u8; 4])));
            v6.push((IpAddr::from([0u8; 16]), IpAddr::from([255u8; 16])));
            continue;
        }
        let range = address(a)?;
        match range.0 {
            IpAddr::V4(_) => v4.push(range),
            IpAddr::V6(_) => v6.push(range),
        }
    }
    let flow = flow_of(&rule.name);
    let mut out = Vec::new();
    for &l in &local {
        for &r in &remote {
            // The responder's port is the local one inbound, the remote one outbound; the
            // other side is the initiator's source ports (Any: none given).
            let (destination, source) = match direction {
                Direction::Inbound => (l, r),
                Direction::Outbound => (r, l),
            };
            let destination_port = destination?;
            for (family, ranges) in [(Family::V4, &v4), (Family::V6, &v6)] {
                if ranges.is_empty() {
                    continue;
                }
                out.push(AllowRule {
                    direction,
                    family,
                    protocol,
                    destination_port,
                    source_ports: source,
                    peers: AddressSet::from_ranges(ranges.iter().copied()),
                    flow: flow.clone(),
                });
            }
        }
    }
    Some(out)
}

fn all_any(list: &Texts) -> bool {
    !list.0.is_empty() && list.0.iter().all(|s| s.eq_ignore_ascii_case("any"))
}

/// The port entries: `Some(range)` for a port or range, `None` for `Any` (alone). `None`
/// overall for anything else (keywords such as `RPC`, an empty list).
fn port_list(list: &Texts) -> Option<Vec<Option<PortRange>>> {
    if all_any(list) {
        return Some(vec![None]);
    }
    if list.0.is_empty() {
        return None;
    }
    list.0.iter().map(|s| port(s).map(Some)).collect()
}

/// `9876` or `49152-65535`.
fn port(s: &str) -> Option<PortRange> {
    let s = s.trim();
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    PortRange::new(a.trim().parse().ok()?, b.trim().parse().ok()?)
}

/// An address entry as Get-NetFirewallAddressFilter prints it: `10.0.0.1`, `10.0.0.0/24`,
/// `10.0.0.0/255.255.255.0` (IPv4 networks print with a mask), `10.0.0.1-10.0.0.9`, and the
/// IPv6 forms `fd00::1`, `fd00::/64`, `fd00::1-fd00::9`. Keywords (`LocalSubnet`, `DNS`, ...)
/// are not addresses.
fn address(s: &str) -> Option<(IpAddr, IpAddr)> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once('-') {
        let (a, b): (IpAddr, IpAddr) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (a.is_ipv4() == b.is_ipv4()).then_some((a, b));
    }
    if let Some((a, mask)) = s.split_once('/') {
        let a: IpAddr = a.parse().ok()?;
        let prefix = match mask.parse::<u8>() {
            Ok(p) => p,
            Err(_) => prefix_of(a, mask.parse().ok()?)?,
        };
        let net = IpNet::new(a, prefix).ok()?;
        return Some((net.network(), net.broadcast()));
    }
    let a: IpAddr = s.parse().ok()?;
    Some((a, a))
}

/// The prefix length of a contiguous network mask of `a`'s family.
fn prefix_of(a: IpAddr, mask: IpAddr) -> Option<u8> {
    let (bits, width) = match (a, mask) {
        (IpAddr::V4(_), IpAddr::V4(m)) => (u128::from(u32::from(m)) << 96, 32),
        (IpAddr::V6(_), IpAddr::V6(m)) => (u128::from(m), 128),
        _ => return None,
    };
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) != 0 || ones > width {
        return None;
    }
    u8::try_from(ones).ok()
}

/// The flow id in a rule name `abrfw:<host>:<in|out>:<flow>:<n>[.<k>]`.
fn flow_of(name: &str) -> Option<String> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (_host, rest) = rest.split_once(':')?;
    let rest = rest
        .strip_prefix("in:")
        .or_else(|| rest.strip_prefix("out:"))?;
    let (flow, index) = rest.rsplit_once(':')?;
    let numbered = !index.is_empty()
        && index
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (numbered && !flow.is_empty()).then(|| flow.to_owned())
}

/// A rule that is not an allow rule of abrfw's shape, as one line.
fn other(rule: &ExportRule) -> OtherRule {
    let list = |t: &Texts| {
        if t.0.is_empty() {
            "(none)".to_owned()
        } else {
            t.0.join(",")
        }
    };
    let mut text = format!(
        "{} {} {} {} local {} port {} remote {} port {}",
        rule.name,
        rule.direction,
        rule.action,
        rule.protocol,
        list(&rule.local_address),
        list(&rule.local_port),
        list(&rule.remote_address),
        list(&rule.remote_port),
    );
    if !(rule.icmp_type.0.is_empty() || all_any(&rule.icmp_type)) {
        text.push_str(&format!(" icmp {}", list(&rule.icmp_type)));
    }
    if !rule.enabled.on() {
        text.push_str(" (disabled)");
    }
    if rule.display_name != rule.name && !rule.display_name.is_empty() {
        text.push_str(&format!(" (display name {})", rule.display_name));
    }
    OtherRule::new(PLACE, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abrfw_core::verify::compare;

    #[test]
    fn addresses_read_in_every_form_the_filter_prints() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            address("10.0.0.0/255.255.255.0"),
            Some((v4("10.0.0.0"), v4("10.0.0.255")))
        );
        assert_eq!(address("10.0.0.0/24"), address("10.0.0.0/255.255.255.0"));
        assert_eq!(
            address("10.0.0.1-10.0.0.9"),
            Some((v4("10.0.0.1"), v4("10.0.0.9")))
        );
        assert_eq!(
            address("192.0.2.11/255.255.255.255"),
            Some((v4("192.0.2.11"), v4("192.0.2.11")))
        );
        assert_eq!(
            address("2001:db8:100::/64"),
            Some((
                v4("2001:db8:100::"),
                v4("2001:db8:100::ffff:ffff:ffff:ffff")
            ))
        );
        assert_eq!(
            address("fd00::1-fd00::9"),
            Some((v4("fd00::1"), v4("fd00::9")))
        );
        assert_eq!(address("LocalSubnet"), None);
        assert_eq!(address("10.0.0.0/255.0.255.0"), None, "not contiguous");
        assert_eq!(address("10.0.0.1-fd00::1"), None);
    }

    #[test]
    fn flow_ids_come_from_the_rule_name() {
        assert_eq!(PLACE, format!("group {}", crate::mapping::GROUP));
        assert_eq!(
            flow_of("abrfw:win-agent:in:allow:admin-rdp:2").as_deref(),
            Some("allow:admin-rdp")
        );
        assert_eq!(
            flow_of("abrfw:win-agent:out:agent-ms:1.3").as_deref(),
            Some("agent-ms")
        );
        assert_eq!(flow_of("Remote Desktop (TCP-In)"), None);
        assert_eq!(flow_of("abrfw:win-agent:in:agent-ms"), None);
    }

    /// The example site's win-agent, compiled.
    fn win_agent() -> HostRules {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = abrfw_core::Catalog::builtin();
        let text = std::fs::read_to_string(root.join("fixtures/topologies/example.toml")).unwrap();
        let topology = abrfw_core::topology::parse("example.toml", &text, &catalog).unwrap();
        abrfw_core::compile(&catalog, &topology)
            .unwrap()
            .into_iter()
            .find(|h| h.host == "win-agent")
            .unwrap()
    }

    /// The `New-NetFirewallRule` calls of the golden firewall.ps1 as the export prints them:
    /// IPv4 networks with a mask, one-element lists bare in some rules (as ConvertTo-Json
    /// writes them unforced), the other filters as Get-NetFirewall* prints them.
    fn export_of_golden() -> serde_json::Value {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let golden =
            std::fs::read_to_string(root.join("fixtures/expected/example/win-agent/firewall.ps1"))
                .unwrap();
        let joined = golden.replace("`\r\n", " ");
        let mut rules = Vec::new();
        for (i, line) in joined
            .lines()
            .filter(|l| l.trim_start().starts_with("New-NetFirewallRule "))
            .enumerate()
        {
            let arg = |flag: &str| -> String {
                let at = line.find(&format!(" {flag} ")).unwrap() + flag.len() + 2;
                let rest = &line[at..];
                rest[1..].split('\'').next().unwrap().to_owned()
            };
            let at = line.find(" -RemoteAddress @(").unwrap() + 18;
            let remote: Vec<String> = line[at..]
                .split(')')
                .next()
                .unwrap()
                .split(", ")
                .map(|a| {
                    let a = a.trim_matches('\'');
                    match a.split_once('/') {
                        Some((net, len)) if !a.contains(':') => {
                            let len: u32 = len.parse().unwrap();
                            let mask = std::net::Ipv4Addr::from(u32::MAX << (32 - len));
                            format!("{net}/{mask}")
                        }
                        _ => a.to_owned(),
                    }
                })
                .collect();
            let list = |v: Vec<String>| {
                if i % 2 == 0 && v.len() == 1 {
                    serde_json::json!(v[0])
                } else {
                    serde_json::json!(v)
                }
            };
            rules.push(serde_json::json!({
                "Name": arg("-Name"),
                "DisplayName": arg("-DisplayName"),
                "Group": arg("-Group"),
                "Direction": arg("-Direction"),
                "Action": arg("-Action"),
                "Enabled": true,
                "Protocol": arg("-Protocol"),
                "LocalPort": list(vec![arg("-LocalPort")]),
                "RemotePort": list(vec![arg("-RemotePort")]),
                "LocalAddress": list(vec!["Any".to_owned()]),
                "RemoteAddress": list(remote),
                "IcmpType": list(vec!["Any".to_owned()]),
            }));
        }
        assert!(rules.len() > 20, "{} rules in the golden", rules.len());
        let profiles: Vec<serde_json::Value> = PROFILES
            .iter()
            .map(|p| {
                serde_json::json!({
                    "Name": p,
                    "Enabled": true,
                    "DefaultInboundAction": "Block",
                    "DefaultOutboundAction": "Block",
                })
            })
            .collect();
        serde_json::json!({ "abrfw_export": 1, "profiles": profiles, "rules": rules })
    }

    fn live(export: &serde_json::Value) -> State {
        parse_live(&serde_json::to_string(export).unwrap()).unwrap()
    }

    fn rule_mut<'a>(export: &'a mut serde_json::Value, name: &str) -> &'a mut serde_json::Value {
        export["rules"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|r| r["Name"] == name)
            .unwrap()
    }

    #[test]
    fn the_export_of_the_golden_script_matches_the_host() {
        let host = win_agent();
        let report = compare(&expected(&host), &live(&export_of_golden()));
        assert!(report.is_empty(), "{report:#?}");
        // And the expected state is the IR's allow rules, whatever the Windows rule split.
        let mut ir = abrfw_core::verify::allow_rules(&host);
        let mut ours = expected(&host).allows;
        ir.sort();
        ours.sort();
        let union = compare(
            &State {
                allows: ir,
                ..State::default()
            },
            &State {
                allows: ours,
                ..State::default()
            },
        );
        assert!(union.is_empty(), "{union:#?}");
    }

    /// 1,200 peers that do not merge become three firewall rules (500 addresses each at most);
    /// read back, they are the IR's one rule, and an export that lost one chunk differs.
    #[test]
    fn a_list_split_by_the_address_limit_compares_as_its_union() {
        let mut host = win_agent();
        let mut rule = host.rules[0].clone();
        rule.peers = abrfw_core::Peers::from_nets(
            (0..1200u32)
                .map(|i| IpNet::from(IpAddr::from(std::net::Ipv4Addr::from(0x0a10_0000 + 2 * i)))),
        );
        host.rules = vec![rule].into();
        let rules = mapping::rules(&host, &Options::default(), None);
        assert_eq!(rules.len(), 3);
        let expected = State {
            allows: expected(&host).allows,
            ..State::default()
        };
        assert_eq!(expected.allows.len(), 3);
        let ir = State {
            allows: abrfw_core::verify::allow_rules(&host),
            ..State::default()
        };
        assert!(compare(&expected, &ir).is_empty());
        let partial = State {
            allows: expected.allows[..2].to_vec(),
            ..State::default()
        };
        let report = compare(&ir, &partial);
        assert_eq!(report.changed.len(), 1, "{report:#?}");
        assert_eq!(report.changed[0].fields, ["peers"]);
    }

    #[test]
    fn a_removed_rule_is_missing_with_its_flow_id() {
        let mut export = export_of_golden();
        export["rules"]
            .as_array_mut()
            .unwrap()
            .retain(|r| r["Name"] != "abrfw:win-agent:in:console-agent:1");
        let report = compare(&expected(&win_agent()), &live(&export));
        assert_eq!(report.len(), 2, "{report:#?}");
        for m in &report.missing {
            assert_eq!(m.flow.as_deref(), Some("console-agent"));
            assert_eq!(m.destination_port, PortRange::single(9876));
        }
        let families: Vec<Family> = report.missing.iter().map(|m| m.family).collect();
        assert_eq!(families, [Family::V4, Family::V6]);
    }

    #[test]
    fn a_foreign_rule_in_the_group_is_extra() {
        let mut export = export_of_golden();
        let rules = export["rules"].as_array_mut().unwrap();
        rules.push(serde_json::json!({
            "Name": "{0b6a5e0c-1d1f-4c5e-9c55-3a7f0d8e2b11}",
            "DisplayName": "Open for the vendor",
            "Group": "abrfw",
            "Direction": "Inbound",
            "Action": "Allow",
            "Enabled": true,
            "Protocol": "TCP",
            "LocalPort": ["5985"],
            "RemotePort": ["Any"],
            "LocalAddress": ["Any"],
            "RemoteAddress": ["10.1.0.0/255.255.0.0"],
            "IcmpType": ["Any"],
        }));
        rules.push(serde_json::json!({
            "Name": "abrfw-ping",
            "DisplayName": "abrfw-ping",
            "Group": "abrfw",
            "Direction": "Inbound",
            "Action": "Allow",
            "Enabled": true,
            "Protocol": "ICMPv4",
            "LocalPort": [],
            "RemotePort": [],
            "LocalAddress": ["Any"],
            "RemoteAddress": ["LocalSubnet"],
            "IcmpType": ["8"],
        }));
        let report = compare(&expected(&win_agent()), &live(&export));
        assert_eq!(report.len(), 2, "{report:#?}");
        assert_eq!(report.extra.len(), 1);
        let extra = &report.extra[0];
        assert_eq!(extra.flow, None);
        assert_eq!(extra.destination_port, PortRange::single(5985));
        assert_eq!(extra.peers.texts(), ["10.1.0.0/16"]);
        assert_eq!(
            report.extra_other,
            [OtherRule::new(
                PLACE,
                "abrfw-ping Inbound Allow ICMPv4 local Any port (none) remote LocalSubnet port \
                 (none) icmp 8"
            )]
        );
    }

    #[test]
    fn a_changed_port_is_changed_and_a_disabled_rule_allows_nothing() {
        let mut export = export_of_golden();
        rule_mut(&mut export, "abrfw:win-agent:in:ms-agent:1")["LocalPort"] =
            serde_json::json!(["9877"]);
        // Outbound, the remote port is the responder's.
        rule_mut(&mut export, "abrfw:win-agent:out:agent-sn:1")["RemotePort"] =
            serde_json::json!("9878");
        rule_mut(&mut export, "abrfw:win-agent:in:ri-ms-win-params:1")["Enabled"] =
            serde_json::json!(false);
        let report = compare(&expected(&win_agent()), &live(&export));
        let changed: Vec<(&str, Family, String)> = report
            .changed
            .iter()
            .map(|c| {
                assert_eq!(c.fields, ["destination_port"]);
                (
                    c.flow.as_str(),
                    c.live.family,
                    c.live.destination_port.to_string(),
                )
            })
            .collect();
        assert_eq!(
            changed,
            [
                ("ms-agent", Family::V4, "9877".to_owned()),
                ("ms-agent", Family::V6, "9877".to_owned()),
                ("agent-sn", Family::V4, "9878".to_owned()),
                ("agent-sn", Family::V6, "9878".to_owned()),
            ]
        );
        assert_eq!(report.missing.len(), 2, "{report:#?}");
        assert!(
            report
                .missing
                .iter()
                .all(|m| m.flow.as_deref() == Some("ri-ms-win-params"))
        );
        assert_eq!(report.extra_other.len(), 1);
        assert!(report.extra_other[0].text.ends_with("(disabled)"));
        assert_eq!(report.len(), 7);
    }

    #[test]
    fn a_profile_that_allows_inbound_is_a_policy_difference() {
        let mut export = export_of_golden();
        export["profiles"][2]["DefaultInboundAction"] = serde_json::json!("Allow");
        export["profiles"][0]["Enabled"] = serde_json::json!(false);
        let report = compare(&expected(&win_agent()), &live(&export));
        let policies: Vec<(&str, Option<&str>, Option<&str>)> = report
            .policies
            .iter()
            .map(|p| (p.place.as_str(), p.expected.as_deref(), p.live.as_deref()))
            .collect();
        assert_eq!(
            policies,
            [
                ("profile Domain", Some("enabled"), Some("disabled")),
                ("profile Public inbound", Some("block"), Some("allow")),
            ]
        );
        assert_eq!(report.len(), 2);
    }

    #[test]
    fn under_fragment_the_profiles_are_not_compared() {
        let mut host = win_agent();
        host.policy = Policy::Fragment;
        let mut export = export_of_golden();
        export["profiles"][1]["DefaultInboundAction"] = serde_json::json!("Allow");
        let report = compare(&expected(&host), &live(&export));
        assert!(report.is_empty(), "{report:#?}");
    }

    #[test]
    fn unreadable_exports_are_located() {
        let e = parse_live("{\"abrfw_export\": 1,\n \"rules\": [ {\"Name\": ]}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 22), "{e:?}");
        assert!(e.message.starts_with("not JSON: "), "{e:?}");
        let e = parse_live("{\"abrfw_export\": 1, \"rules\": [{\"Name\": \"x\"}]}").unwrap_err();
        assert!(
            e.message
                .starts_with("not the export of firewall.ps1: missing field"),
            "{e:?}"
        );
        let e = parse_live("\u{feff}{\"abrfw_export\": 2}").unwrap_err();
        assert!(e.message.contains("abrfw_export 2"), "{e:?}");
    }
}
