//! The ICMPv6 a drop-policy host accepts, by direction: one policy, as data, that every backend
//! renders (RFC 4890 §4.4, "Recommendations for ICMPv6 Local Configuration Traffic", read for an
//! end host rather than a firewall).
//!
//! A host sends and receives the error messages and neighbour discovery; it receives router
//! advertisements and MLD queries (routers send them) and sends router solicitations and MLD
//! reports (routers receive them). Echo is not in the policy: no documented flow uses it, as
//! before. Errors about a connection abrfw allowed also pass as related traffic wherever the
//! target tracks connections; the entries here cover errors about traffic a host tracks no state
//! for, and path MTU discovery.
//!
//! No syntax here: a backend prints [`Icmpv6Type::number`] (every target accepts numbers) and may
//! name the type in a comment with [`Icmpv6Type::name`].

use crate::ir::Direction;

/// Which way a host accepts an ICMPv6 type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Icmpv6Direction {
    /// Received and sent.
    Both,
    /// Received only (routers send these; a host never does).
    Inbound,
    /// Sent only (routers receive these; a host has no use for another host's).
    Outbound,
}

impl Icmpv6Direction {
    /// Whether a packet travelling in `direction` (inbound: to this host) is accepted.
    pub fn allows(self, direction: Direction) -> bool {
        matches!(
            (self, direction),
            (Self::Both, _)
                | (Self::Inbound, Direction::Inbound)
                | (Self::Outbound, Direction::Outbound)
        )
    }
}

/// What an ICMPv6 type is for; a backend whose target cannot name a kind says so in its docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Icmpv6Kind {
    /// Error messages (RFC 4443 §3).
    Error,
    /// Router discovery (RFC 4861 §4.1, §4.2).
    RouterDiscovery,
    /// Neighbour discovery (RFC 4861 §4.3, §4.4).
    NeighbourDiscovery,
    /// Multicast listener discovery (RFC 2710, RFC 3810).
    Mld,
}

/// One ICMPv6 type of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Type {
    /// The type number (IANA "ICMPv6 Parameters").
    pub number: u8,
    /// Its name, as RFC 4443 / RFC 4861 / RFC 2710 / RFC 3810 spell it in lower case.
    pub name: &'static str,
    /// What it is for.
    pub kind: Icmpv6Kind,
    /// Which way a host accepts it.
    pub direction: Icmpv6Direction,
    /// The document that defines it and the RFC 4890 section that recommends it.
    pub reference: &'static str,
}

/// The policy, sorted by type number.
pub const ICMPV6_POLICY: [Icmpv6Type; 12] = [
    Icmpv6Type {
        number: 1,
        name: "destination-unreachable",
        kind: Icmpv6Kind::Error,
        direction: Icmpv6Direction::Both,
        reference: "RFC 4443 §3.1; RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 2,
        name: "packet-too-big",
        kind: Icmpv6Kind::Error,
        direction: Icmpv6Direction::Both,
        reference: "RFC 4443 §3.2 (path MTU discovery, RFC 8201); RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 3,
        name: "time-exceeded",
        kind: Icmpv6Kind::Error,
        direction: Icmpv6Direction::Both,
        reference: "RFC 4443 §3.3; RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 4,
        name: "parameter-problem",
        kind: Icmpv6Kind::Error,
        direction: Icmpv6Direction::Both,
        reference: "RFC 4443 §3.4; RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 130,
        name: "mld-listener-query",
        kind: Icmpv6Kind::Mld,
        direction: Icmpv6Direction::Inbound,
        reference: "RFC 2710 §3.6, RFC 3810 §5.1 (sent by routers); RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 131,
        name: "mld-listener-report",
        kind: Icmpv6Kind::Mld,
        direction: Icmpv6Direction::Outbound,
        reference: "RFC 2710 §3.7 (sent by listeners); RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 132,
        name: "mld-listener-done",
        kind: Icmpv6Kind::Mld,
        direction: Icmpv6Direction::Outbound,
        reference: "RFC 2710 §3.8 (sent by listeners); RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 133,
        name: "router-solicitation",
        kind: Icmpv6Kind::RouterDiscovery,
        direction: Icmpv6Direction::Outbound,
        reference: "RFC 4861 §4.1 (sent by hosts); RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 134,
        name: "router-advertisement",
        kind: Icmpv6Kind::RouterDiscovery,
        direction: Icmpv6Direction::Inbound,
        reference: "RFC 4861 §4.2 (sent by routers); RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 135,
        name: "neighbour-solicitation",
        kind: Icmpv6Kind::NeighbourDiscovery,
        direction: Icmpv6Direction::Both,
        reference: "RFC 4861 §4.3; RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 136,
        name: "neighbour-advertisement",
        kind: Icmpv6Kind::NeighbourDiscovery,
        direction: Icmpv6Direction::Both,
        reference: "RFC 4861 §4.4; RFC 4890 §4.4.1",
    },
    Icmpv6Type {
        number: 143,
        name: "mld2-listener-report",
        kind: Icmpv6Kind::Mld,
        direction: Icmpv6Direction::Outbound,
        reference: "RFC 3810 §5.2 (sent by listeners); RFC 4890 §4.4.1",
    },
];

/// The types a host accepts travelling in `direction`, by type number.
pub fn icmpv6_accepted(direction: Direction) -> impl Iterator<Item = &'static Icmpv6Type> + Clone {
    ICMPV6_POLICY
        .iter()
        .filter(move |t| t.direction.allows(direction))
}

/// The types a router forwards under a gateway's `policy = "drop"`: the errors. Discovery and
/// MLD are link-scoped (link-local addresses, hop limit 255 or 1) and never forwarded; a
/// gateway's own discovery traffic is not filtered by abrfw.
pub fn icmpv6_forwarded() -> impl Iterator<Item = &'static Icmpv6Type> + Clone {
    ICMPV6_POLICY.iter().filter(|t| t.kind == Icmpv6Kind::Error)
}

/// The type numbers a host accepts travelling in `direction`, joined by `sep` (`"1, 2, 3"`).
pub fn icmpv6_numbers(direction: Direction, sep: &str) -> String {
    icmpv6_accepted(direction)
        .map(|t| t.number.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// The names of the types a host accepts travelling in `direction`, joined by `", "`, for a
/// comment beside the numbers.
pub fn icmpv6_names(direction: Direction) -> String {
    icmpv6_accepted(direction)
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_as_rfc_4890_section_4_4_advises_a_host() {
        let numbers: Vec<u8> = ICMPV6_POLICY.iter().map(|t| t.number).collect();
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(numbers, sorted);
        assert_eq!(
            icmpv6_numbers(Direction::Inbound, ", "),
            "1, 2, 3, 4, 130, 134, 135, 136"
        );
        assert_eq!(
            icmpv6_numbers(Direction::Outbound, ", "),
            "1, 2, 3, 4, 131, 132, 133, 135, 136, 143"
        );
    }

    #[test]
    fn a_host_never_sends_router_advertisements_or_mld_queries() {
        for t in icmpv6_accepted(Direction::Outbound) {
            assert!(![130, 134].contains(&t.number), "{}", t.name);
        }
        for t in icmpv6_accepted(Direction::Inbound) {
            assert!(![131, 132, 133, 143].contains(&t.number), "{}", t.name);
        }
    }
}
