//! Operating systems a host can run, and their ephemeral (source) port ranges.

use std::fmt;

use serde::Serialize;

use crate::ir::PortRange;

/// The OS a `[[gateway]]` may run, in the order error messages list them. A gateway's forward
/// rules need a backend with a gateway mode for its OS; `abrfw-backends` tests that one exists.
pub const GATEWAY_OS: [Os; 4] = [Os::Openbsd, Os::Freebsd, Os::Macos, Os::Linux];

/// The operating system of a host, as the topology names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Os {
    /// Windows Vista / Server 2008 and later.
    Windows,
    /// Windows before Vista (XP, Server 2003).
    WindowsLegacy,
    /// Linux.
    Linux,
    /// The Acronis virtual appliance (Agent for VMware), Linux based.
    Appliance,
    /// FreeBSD.
    Freebsd,
    /// OpenBSD.
    Openbsd,
    /// macOS.
    Macos,
}

impl Os {
    /// Every OS, in topology order.
    pub const ALL: [Os; 7] = [
        Os::Windows,
        Os::WindowsLegacy,
        Os::Linux,
        Os::Appliance,
        Os::Freebsd,
        Os::Openbsd,
        Os::Macos,
    ];

    /// The topology spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Os::Windows => "windows",
            Os::WindowsLegacy => "windows-legacy",
            Os::Linux => "linux",
            Os::Appliance => "appliance",
            Os::Freebsd => "freebsd",
            Os::Openbsd => "openbsd",
            Os::Macos => "macos",
        }
    }

    /// Parses the topology spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|os| os.as_str() == name)
    }

    /// The default range the OS picks outgoing TCP/UDP source ports from.
    ///
    /// Windows, Linux and the appliance: the vendor's own note in the "ABR11.5 Network Connections"
    /// diagram ("The source port is 1025–5000 (Windows prior to Windows Vista), 49152–65535 (Windows
    /// Vista and later), or 32768–61000 (Linux and the virtual appliance)"), confirmed by Microsoft
    /// KB 929851 and the Linux default since 2007. Kernels since 4.2 use 32768–60999, a subset.
    /// The BSDs and macOS are not in the diagram; their defaults are taken from the systems:
    /// FreeBSD `net.inet.ip.portrange.first/last` = 10000–65535, OpenBSD `net.inet.ip.portfirst/last`
    /// = 1024–49151, macOS = the IANA range 49152–65535.
    pub const fn ephemeral_ports(self) -> PortRange {
        match self {
            Os::Windows | Os::Macos => PortRange {
                first: 49152,
                last: 65535,
            },
            Os::WindowsLegacy => PortRange {
                first: 1025,
                last: 5000,
            },
            Os::Linux | Os::Appliance => PortRange {
                first: 32768,
                last: 61000,
            },
            Os::Freebsd => PortRange {
                first: 10000,
                last: 65535,
            },
            Os::Openbsd => PortRange {
                first: 1024,
                last: 49151,
            },
        }
    }

    /// True for the Windows family (both generations).
    pub const fn is_windows(self) -> bool {
        matches!(self, Os::Windows | Os::WindowsLegacy)
    }

    /// False for Windows XP and Server 2003, whose firewall filters inbound connections only:
    /// a rule set for them cannot close outbound traffic, whatever its policy.
    pub const fn filters_outbound(self) -> bool {
        !matches!(self, Os::WindowsLegacy)
    }

    /// True for Linux and the Linux-based virtual appliance.
    pub const fn is_linux(self) -> bool {
        matches!(self, Os::Linux | Os::Appliance)
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
