//! The site services an `[[allow]]` may name with `service = "dns"` instead of `port` and
//! `protocol`: ordinary network services a site needs beside the Acronis flows (name
//! resolution, time, mail, administration, Active Directory). Data only, as the catalog is;
//! `abrfw services` lists them and `docs/topology.md` explains how to use them.
//!
//! Each port is in connection terms, like a catalog flow: the `from` end of the `[[allow]]`
//! connects to `port` on the `to` end, and the replies are allowed by the rule set's state
//! tracking (stateful in every backend, UDP included).

use serde::Serialize;

use crate::ir::{PortRange, Protocol};

/// One protocol and destination port range of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ServicePort {
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's port(s).
    pub ports: PortRange,
    /// The initiator's source ports.
    pub source: SourcePort,
}

/// The source ports a service's client sends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "port", rename_all = "kebab-case")]
pub enum SourcePort {
    /// Its OS ephemeral range (or the host's `ephemeral_ports`), as most clients do.
    Ephemeral,
    /// One fixed port (the DHCP client's 68).
    Fixed(u16),
    /// Any port: clients differ (ntpd and the Windows Time service send from 123, chrony and
    /// systemd-timesyncd from an ephemeral port).
    Any,
}

impl SourcePort {
    /// The source ports a rule matches, given the initiator's ephemeral range (`None` for
    /// an end outside the site, whose range is unknown): `None` means any port.
    pub fn ports(self, ephemeral: Option<PortRange>) -> Option<PortRange> {
        match self {
            SourcePort::Ephemeral => ephemeral,
            SourcePort::Fixed(p) => Some(PortRange::single(p)),
            SourcePort::Any => None,
        }
    }
}

/// A site service: a name an `[[allow]]` can use, what it is, its ports and where they are
/// documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Service {
    /// The name `service = ...` takes.
    pub name: &'static str,
    /// What the service is for, one line.
    pub description: &'static str,
    /// Its protocols and ports, sorted.
    pub ports: &'static [ServicePort],
    /// The document the ports come from.
    pub source: &'static str,
}

const fn tcp(port: u16) -> ServicePort {
    ServicePort {
        protocol: Protocol::Tcp,
        ports: PortRange::single(port),
        source: SourcePort::Ephemeral,
    }
}

const fn udp(port: u16) -> ServicePort {
    ServicePort {
        protocol: Protocol::Udp,
        ports: PortRange::single(port),
        source: SourcePort::Ephemeral,
    }
}

/// Microsoft's port reference for Windows Server services, used for the Active Directory
/// client set, SMB, RDP and the RPC dynamic range.
const KB_832017: &str = "Microsoft: Service overview and network port requirements for Windows (KB 832017), \
     https://learn.microsoft.com/troubleshoot/windows-server/networking/service-overview-and-network-port-requirements";

/// The RPC dynamic port range of Windows Vista / Server 2008 and later (KB 832017; KB 929851
/// moved it from 1025-5000 to 49152-65535).
const RPC_DYNAMIC: PortRange = match PortRange::new(49152, 65535) {
    Some(r) => r,
    None => PortRange::single(49152),
};

/// Every built-in service, sorted by name.
pub const SERVICES: &[Service] = &[
    Service {
        name: "ad",
        description: "Active Directory client: a domain member to its domain controllers (DNS, Kerberos, RPC endpoint mapper, LDAP, SMB, kpasswd, LDAPS, Global Catalog, RPC dynamic range)",
        ports: &[
            tcp(53),
            tcp(88),
            tcp(135),
            tcp(389),
            tcp(445),
            tcp(464),
            tcp(636),
            tcp(3268),
            tcp(3269),
            ServicePort {
                protocol: Protocol::Tcp,
                ports: RPC_DYNAMIC,
                source: SourcePort::Ephemeral,
            },
            udp(53),
            udp(88),
            udp(389),
            udp(464),
        ],
        source: KB_832017,
    },
    Service {
        name: "dhcp",
        description: "DHCP client: lease renewal with the DHCP server (client UDP 68 to server UDP 67); see docs/topology.md for the broadcast exchange before the client has an address",
        ports: &[ServicePort {
            protocol: Protocol::Udp,
            ports: PortRange::single(67),
            source: SourcePort::Fixed(68),
        }],
        source: "RFC 2131 (Dynamic Host Configuration Protocol), section 4.1",
    },
    Service {
        name: "dns",
        description: "DNS: name resolution (UDP, and TCP for large answers and zone transfers); agents find the management server by name through DNS or the hosts file",
        ports: &[tcp(53), udp(53)],
        source: "RFC 1035 section 4.2; RFC 7766 (DNS over TCP is required)",
    },
    Service {
        name: "http",
        description: "HTTP: web servers, proxies and update sites",
        ports: &[tcp(80)],
        source: "RFC 9110 section 4.2.1",
    },
    Service {
        name: "https",
        description: "HTTPS: web servers, proxies and update sites over TLS",
        ports: &[tcp(443)],
        source: "RFC 9110 section 4.2.2",
    },
    Service {
        name: "ntp",
        description: "NTP: time synchronisation (Kerberos needs clocks within five minutes)",
        ports: &[ServicePort {
            protocol: Protocol::Udp,
            ports: PortRange::single(123),
            source: SourcePort::Any,
        }],
        source: "RFC 5905 section 7.2 (ntpd and the Windows Time service send from 123, other clients from an ephemeral port)",
    },
    Service {
        name: "rdp",
        description: "Remote Desktop: administrators' interactive sessions on Windows",
        ports: &[tcp(3389)],
        source: KB_832017,
    },
    Service {
        name: "smtp",
        description: "SMTP: mail submission and relay (the management server mails notifications)",
        ports: &[tcp(25), tcp(587)],
        source: "RFC 5321 section 4.5.4 (25); RFC 6409 section 3.1 (587)",
    },
    Service {
        name: "snmp-trap",
        description: "SNMP notifications (traps) to a monitoring station",
        ports: &[udp(162)],
        source: "RFC 3417 section 3 (SNMP notifications to UDP 162)",
    },
    Service {
        name: "ssh",
        description: "SSH: administrators' shell access",
        ports: &[tcp(22)],
        source: "RFC 4253 section 4",
    },
    Service {
        name: "winrm",
        description: "Windows Remote Management (PowerShell remoting) over HTTP and HTTPS",
        ports: &[tcp(5985), tcp(5986)],
        source: "Microsoft: Installation and configuration for Windows Remote Management (default listeners 5985 and 5986)",
    },
];

/// The service named `name`.
pub fn service(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name == name)
}

/// The names of every service, sorted.
pub fn names() -> Vec<&'static str> {
    SERVICES.iter().map(|s| s.name).collect()
}

impl Service {
    /// Whether the service uses `port` over `protocol`.
    pub fn has(&self, protocol: Protocol, port: u16) -> bool {
        self.ports
            .iter()
            .any(|p| p.protocol == protocol && p.ports.contains(port))
    }

    /// The ports as a short text, grouped by protocol: `tcp 25,587`, `tcp 53; udp 53`,
    /// `udp 67 (from 68)`.
    pub fn ports_text(&self) -> String {
        let mut groups: Vec<(Protocol, Vec<String>)> = Vec::new();
        for p in self.ports {
            let text = match p.source {
                SourcePort::Fixed(s) => format!("{} (from {s})", p.ports),
                SourcePort::Any => format!("{} (from any port)", p.ports),
                SourcePort::Ephemeral => p.ports.to_string(),
            };
            match groups.last_mut() {
                Some((protocol, list)) if *protocol == p.protocol => list.push(text),
                _ => groups.push((p.protocol, vec![text])),
            }
        }
        groups
            .iter()
            .map(|(protocol, list)| format!("{} {}", protocol.as_str(), list.join(",")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_sorted_unique_and_their_ports_sorted() {
        for w in SERVICES.windows(2) {
            assert!(w[0].name < w[1].name, "{} {}", w[0].name, w[1].name);
        }
        for s in SERVICES {
            assert!(!s.ports.is_empty(), "{}", s.name);
            assert!(s.ports.windows(2).all(|w| w[0] < w[1]), "{}", s.name);
            assert!(crate::topology::check_name(s.name).is_ok(), "{}", s.name);
        }
        let ad = service("ad").unwrap();
        for (protocol, port) in [
            (Protocol::Tcp, 88),
            (Protocol::Udp, 88),
            (Protocol::Tcp, 464),
            (Protocol::Udp, 389),
            (Protocol::Tcp, 636),
            (Protocol::Tcp, 3269),
            (Protocol::Tcp, 445),
            (Protocol::Tcp, 135),
            (Protocol::Tcp, 50000),
        ] {
            assert!(ad.has(protocol, port), "{protocol:?} {port}");
        }
        assert_eq!(service("dns").unwrap().ports_text(), "tcp 53; udp 53");
        assert_eq!(service("smtp").unwrap().ports_text(), "tcp 25,587");
        assert_eq!(service("dhcp").unwrap().ports_text(), "udp 67 (from 68)");
        assert_eq!(
            service("ntp").unwrap().ports_text(),
            "udp 123 (from any port)"
        );
    }
}
