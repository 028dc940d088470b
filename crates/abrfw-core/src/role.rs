//! Roles a topology host can hold, and the catalog components they make a host take part in.

use std::fmt;

use serde::Serialize;

use crate::os::Os;

/// A role, as a topology's `roles = [...]` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Acronis Management Server (AMS).
    ManagementServer,
    /// Acronis Management Console.
    ManagementConsole,
    /// Acronis License Server (standalone, or on the management server's host).
    LicenseServer,
    /// Acronis Storage Node.
    StorageNode,
    /// Agent for Windows or Agent for Linux, by the host's OS.
    Agent,
    /// Agent for Exchange.
    AgentExchange,
    /// Agent for VMware (Virtual Appliance).
    AgentVmware,
    /// VMware vCenter Server.
    Vcenter,
    /// VMware ESX(i) host.
    Esxi,
    /// Acronis Online Backup Storage.
    OnlineStorage,
    /// The Acronis web site (update checks).
    AcronisWebsite,
    /// A web browser that retrieves files from the online storage.
    WebBrowser,
    /// Unmanaged vault on a network share or NAS reached over SMB.
    VaultSmb,
    /// Unmanaged vault on an SFTP server.
    VaultSftp,
    /// Unmanaged vault on a NAS reached over NFS.
    VaultNfs,
    /// Agent for VMware (Windows): from the later 11.5 revision (flows.md §2.1).
    AgentVmwareWindows,
    /// Agent for Hyper-V: from the later 11.5 revision (flows.md §2.1).
    AgentHyperv,
    /// Catalog (search index) server: Acronis Backup 12.5 (flows.md §2.2).
    CatalogServer,
    /// Managed vault (kept by a storage node) on a network share or NAS reached over SMB.
    ManagedVaultSmb,
    /// Managed vault (kept by a storage node) on a NAS reached over NFS.
    ManagedVaultNfs,
}

impl Role {
    /// Every role, in documentation order.
    pub const ALL: [Role; 20] = [
        Role::ManagementServer,
        Role::ManagementConsole,
        Role::LicenseServer,
        Role::StorageNode,
        Role::Agent,
        Role::AgentExchange,
        Role::AgentVmware,
        Role::Vcenter,
        Role::Esxi,
        Role::OnlineStorage,
        Role::AcronisWebsite,
        Role::WebBrowser,
        Role::VaultSmb,
        Role::VaultSftp,
        Role::VaultNfs,
        Role::AgentVmwareWindows,
        Role::AgentHyperv,
        Role::CatalogServer,
        Role::ManagedVaultSmb,
        Role::ManagedVaultNfs,
    ];

    /// The topology spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::ManagementServer => "management-server",
            Role::ManagementConsole => "management-console",
            Role::LicenseServer => "license-server",
            Role::StorageNode => "storage-node",
            Role::Agent => "agent",
            Role::AgentExchange => "agent-exchange",
            Role::AgentVmware => "agent-vmware",
            Role::Vcenter => "vcenter",
            Role::Esxi => "esxi",
            Role::OnlineStorage => "online-storage",
            Role::AcronisWebsite => "acronis-website",
            Role::WebBrowser => "web-browser",
            Role::VaultSmb => "vault-smb",
            Role::VaultSftp => "vault-sftp",
            Role::VaultNfs => "vault-nfs",
            Role::AgentVmwareWindows => "agent-vmware-windows",
            Role::AgentHyperv => "agent-hyperv",
            Role::CatalogServer => "catalog-server",
            Role::ManagedVaultSmb => "managed-vault-smb",
            Role::ManagedVaultNfs => "managed-vault-nfs",
        }
    }

    /// Parses the topology spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The operating systems the vendor ships this component for (ABR 11.5), or the systems a
    /// third-party component can run on. Empty: the host is always a peer, described without `os`.
    pub const fn supported_os(self) -> &'static [Os] {
        const WINDOWS: &[Os] = &[Os::Windows, Os::WindowsLegacy];
        const WINDOWS_LINUX: &[Os] = &[Os::Windows, Os::WindowsLegacy, Os::Linux];
        const GENERAL: &[Os] = &[
            Os::Windows,
            Os::WindowsLegacy,
            Os::Linux,
            Os::Freebsd,
            Os::Openbsd,
            Os::Macos,
        ];
        match self {
            Role::ManagementServer
            | Role::LicenseServer
            | Role::StorageNode
            | Role::AgentExchange
            | Role::AgentHyperv
            | Role::AgentVmwareWindows => WINDOWS,
            Role::CatalogServer => &[Os::Windows],
            Role::ManagementConsole | Role::Agent => WINDOWS_LINUX,
            Role::AgentVmware => &[Os::Appliance],
            Role::Vcenter => &[Os::Windows, Os::Linux],
            Role::Esxi | Role::OnlineStorage | Role::AcronisWebsite => &[],
            Role::WebBrowser
            | Role::VaultSmb
            | Role::VaultSftp
            | Role::VaultNfs
            | Role::ManagedVaultSmb
            | Role::ManagedVaultNfs => GENERAL,
        }
    }
}

impl Role {
    /// Whether the role is an NFS server (the hosts `nfs_mountd_port` may be given on).
    pub fn serves_nfs(self) -> bool {
        matches!(self, Role::VaultNfs | Role::ManagedVaultNfs)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A box of the vendor diagram: the end of a flow, matched against a host's roles and OS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Management console.
    Console,
    /// A management console on Windows (the installer the no-DNS discovery rows are for).
    ConsoleWin,
    /// Management server.
    Ms,
    /// License server.
    Ls,
    /// Storage node.
    Sn,
    /// Any agent: for Windows, Linux, Exchange, Hyper-V, VMware (appliance or Windows).
    Agent,
    /// Agent for VMware (Virtual Appliance).
    AgentVmwareVa,
    /// A Windows machine receiving a remote installation (Agent for Windows, Exchange, Hyper-V
    /// or VMware (Windows)).
    TargetWin,
    /// A Linux machine receiving a remote installation (Agent for Linux).
    TargetLinux,
    /// A machine that has just been remote-installed (any push target), acting as the new agent.
    NewAgent,
    /// VMware vCenter.
    Vcenter,
    /// VMware ESX(i).
    Esxi,
    /// Acronis Online Backup Storage.
    OnlineStorage,
    /// Acronis web site.
    AcronisWeb,
    /// Web browser.
    Browser,
    /// Unmanaged vault on an SMB share.
    VaultSmb,
    /// Unmanaged vault on an SFTP server.
    VaultSftp,
    /// Unmanaged vault on an NFS export.
    VaultNfs,
    /// Agent for VMware (Windows).
    AgentVmwareWin,
    /// Catalog (search index) server of Acronis Backup 12.5.
    CatalogServer,
    /// Managed vault on an SMB share (behind a storage node).
    ManagedVaultSmb,
    /// Managed vault on an NFS export (behind a storage node).
    ManagedVaultNfs,
}

impl Component {
    /// Every component, in declaration order.
    pub const ALL: [Component; 22] = [
        Component::Console,
        Component::ConsoleWin,
        Component::Ms,
        Component::Ls,
        Component::Sn,
        Component::Agent,
        Component::AgentVmwareVa,
        Component::TargetWin,
        Component::TargetLinux,
        Component::NewAgent,
        Component::Vcenter,
        Component::Esxi,
        Component::OnlineStorage,
        Component::AcronisWeb,
        Component::Browser,
        Component::VaultSmb,
        Component::VaultSftp,
        Component::VaultNfs,
        Component::AgentVmwareWin,
        Component::CatalogServer,
        Component::ManagedVaultSmb,
        Component::ManagedVaultNfs,
    ];

    /// Parses the catalog name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The catalog name (flows.md §1).
    pub const fn as_str(self) -> &'static str {
        match self {
            Component::Console => "console",
            Component::ConsoleWin => "console_win",
            Component::Ms => "ms",
            Component::Ls => "ls",
            Component::Sn => "sn",
            Component::Agent => "agent",
            Component::AgentVmwareVa => "agent_vmware_va",
            Component::TargetWin => "target_win",
            Component::TargetLinux => "target_linux",
            Component::NewAgent => "target",
            Component::Vcenter => "vcenter",
            Component::Esxi => "esxi",
            Component::OnlineStorage => "online_storage",
            Component::AcronisWeb => "acronis_web",
            Component::Browser => "browser",
            Component::VaultSmb => "vault_smb",
            Component::VaultSftp => "vault_sftp",
            Component::VaultNfs => "vault_nfs",
            Component::AgentVmwareWin => "agent_vmware_win",
            Component::CatalogServer => "catalog",
            Component::ManagedVaultSmb => "managed_vault_smb",
            Component::ManagedVaultNfs => "managed_vault_nfs",
        }
    }

    /// Whether a host with these roles and OS plays this component.
    ///
    /// Push-installation targets need a known OS: the vendor pushes over SMB+25001 to Windows and
    /// over SSH to Linux. Every Windows agent is installed that way (Agent for Windows, Exchange,
    /// and in the later revision Hyper-V and VMware (Windows), flows.md §2.1); only Agent for
    /// Linux is pushed over SSH. The virtual appliance is deployed from a template, never pushed.
    pub fn matches(self, roles: &[Role], os: Option<Os>) -> bool {
        let has = |r: Role| roles.contains(&r);
        let pushable = has(Role::Agent)
            || has(Role::AgentExchange)
            || has(Role::AgentHyperv)
            || has(Role::AgentVmwareWindows);
        match self {
            Component::Console => has(Role::ManagementConsole),
            Component::ConsoleWin => has(Role::ManagementConsole) && os.is_some_and(Os::is_windows),
            Component::Ms => has(Role::ManagementServer),
            Component::Ls => has(Role::LicenseServer),
            Component::Sn => has(Role::StorageNode),
            Component::Agent => {
                has(Role::Agent)
                    || has(Role::AgentExchange)
                    || has(Role::AgentVmware)
                    || has(Role::AgentVmwareWindows)
                    || has(Role::AgentHyperv)
            }
            Component::AgentVmwareWin => has(Role::AgentVmwareWindows),
            Component::CatalogServer => has(Role::CatalogServer),
            Component::AgentVmwareVa => has(Role::AgentVmware),
            Component::TargetWin => pushable && os.is_some_and(Os::is_windows),
            Component::TargetLinux => has(Role::Agent) && os == Some(Os::Linux),
            Component::NewAgent => {
                pushable && os.is_some_and(|os| os.is_windows() || os == Os::Linux)
            }
            Component::Vcenter => has(Role::Vcenter),
            Component::Esxi => has(Role::Esxi),
            Component::OnlineStorage => has(Role::OnlineStorage),
            Component::AcronisWeb => has(Role::AcronisWebsite),
            Component::Browser => has(Role::WebBrowser),
            Component::VaultSmb => has(Role::VaultSmb),
            Component::VaultSftp => has(Role::VaultSftp),
            Component::VaultNfs => has(Role::VaultNfs),
            Component::ManagedVaultSmb => has(Role::ManagedVaultSmb),
            Component::ManagedVaultNfs => has(Role::ManagedVaultNfs),
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
