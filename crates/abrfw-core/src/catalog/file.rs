//! A release catalog of the user's own, read from a TOML file (`abrfw --catalog FILE`).
//!
//! The file mirrors [`Release`] and [`Flow`]; see `docs/releases.md` for the format. Errors are
//! located like a topology's: serde types with spans (`RawCatalog`) first, then every semantic
//! check reports file, line and column.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{
    Catalog, Condition, Confidence, Encryption, EncryptionNote, Flow, Group, Phase, Port, Presence,
    Release, SourcePort,
};
use crate::diagnostic::{Diagnostic, TopologyError};
use crate::ir::Protocol;
use crate::role::{Component, Role};
use crate::topology::{MAX_NAME_LEN, check_description, check_name, unknown};

/// The whole file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    release: RawRelease,
    #[serde(default, rename = "flow")]
    flows: Vec<RawFlow>,
}

/// `[release]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    id: Spanned<String>,
    title: Option<Spanned<String>>,
    document: Option<Spanned<String>>,
    roles: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One `[[flow]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    id: Spanned<String>,
    group: Option<Spanned<String>>,
    initiator: Spanned<String>,
    responder: Spanned<String>,
    protocol: Option<Spanned<String>>,
    port: Spanned<RawFlowPort>,
    source_port: Option<Spanned<String>>,
    purpose: Spanned<String>,
    encryption: Option<Spanned<String>>,
    encryption_class: Option<Spanned<String>>,
    phase: Option<Spanned<String>>,
    management_server: Option<Spanned<String>>,
    #[serde(default)]
    no_dns_only: bool,
    nfs_v3: Option<Spanned<bool>>,
    source: Option<Spanned<String>>,
    confidence: Option<Spanned<String>>,
}

/// `port = 443` or `port = "acronis"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawFlowPort {
    Number(i64),
    Text(String),
}

/// Parses and validates a catalog file into a release. `path` is only used in error messages.
///
/// The release lives for the rest of the process (it is leaked once), so that it has the same
/// `&'static` shape as the built-in releases and the compiler treats both alike; a run loads a
/// handful of catalog files at most.
pub fn parse(path: &str, text: &str, builtin: &Catalog) -> Result<&'static Release, TopologyError> {
    let error = |diagnostics| TopologyError {
        path: path.to_owned(),
        source_text: text.to_owned(),
        diagnostics,
    };
    let raw: RawCatalog = toml::from_str(text).map_err(|e| {
        error(vec![Diagnostic {
            message: e.message().trim_end().to_owned(),
            span: Some(e.span().unwrap_or(0..0)),
            help: Some("see docs/releases.md for the catalog file format".into()),
        }])
    })?;
    let mut checker = Checker {
        diagnostics: Vec::new(),
    };
    let release = checker.release(raw, builtin);
    if checker.diagnostics.is_empty() {
        Ok(release)
    } else {
        checker
            .diagnostics
            .sort_by_key(|d| d.span.as_ref().map(|s| s.start));
        Err(error(checker.diagnostics))
    }
}

struct Checker {
    diagnostics: Vec<Diagnostic>,
}

fn leak(s: &str) -> &'static str {
    String::leak(s.to_owned())
}

impl Checker {
    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn text(&mut self, what: &str, value: &Spanned<String>) -> &'static str {
        if let Err(why) = check_description(value.get_ref()) {
            self.report(
                Diagnostic::new(format!("invalid {what}: {why}"), value.span())
                    .help("use at most 200 printable characters on one line"),
            );
        }
        leak(value.get_ref())
    }

    fn id(&mut self, what: &str, value: &Spanned<String>) -> &'static str {
        if let Err(why) = check_name(value.get_ref()) {
            self.report(
                Diagnostic::new(
                    format!("invalid {what} {:?}: {why}", value.get_ref()),
                    value.span(),
                )
                .help(format!(
                    "use 1 to {MAX_NAME_LEN} characters from A-Z a-z 0-9 . _ -, starting with a \
                     letter or digit"
                )),
            );
        }
        leak(value.get_ref())
    }

    fn release(&mut self, raw: RawCatalog, builtin: &Catalog) -> &'static Release {
        let id = self.id("release id", &raw.release.id);
        if builtin.release(id).is_some() {
            self.report(
                Diagnostic::new(format!("release {id:?} is built in"), raw.release.id.span())
                    .help("give your catalog an id of its own, e.g. \"site-abr-11.5\""),
            );
        }
        let title = match &raw.release.title {
            Some(t) => self.text("title", t),
            None => id,
        };
        let document = match &raw.release.document {
            Some(d) => self.text("document", d),
            None => "user catalog",
        };
        if raw.flows.is_empty() {
            self.report(
                Diagnostic::new("the catalog has no flows", raw.release.id.span())
                    .help("add at least one [[flow]] table"),
            );
        }
        // Case-insensitive: flow ids become Windows rule names and parts of file and set
        // names, where `Backup` and `backup` are one.
        let mut seen = BTreeSet::new();
        let mut flows = Vec::with_capacity(raw.flows.len());
        for f in &raw.flows {
            if !seen.insert(f.id.get_ref().to_ascii_lowercase()) {
                self.report(
                    Diagnostic::new(
                        format!("duplicate flow id {:?}", f.id.get_ref()),
                        f.id.span(),
                    )
                    .help("every flow of a release needs its own id (ignoring case: Windows rule names ignore it)"),
                );
            }
            flows.push(self.flow(f));
        }
        let roles = match &raw.release.roles {
            Some(list) => {
                let names = role_names();
                let mut roles = Vec::new();
                for r in list.get_ref() {
                    match Role::from_name(r.get_ref()) {
                        Some(role) if !roles.contains(&role) => roles.push(role),
                        Some(_) => {}
                        None => self.report(unknown("role", r.get_ref(), r.span(), &names)),
                    }
                }
                roles
            }
            None => roles_of(&flows),
        };
        Box::leak(Box::new(Release {
            id,
            title,
            document,
            roles: Vec::leak(roles),
            flows: Vec::leak(flows),
        }))
    }

    fn choice<T: Copy>(
        &mut self,
        what: &str,
        value: Option<&Spanned<String>>,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
        known: &[&str],
    ) -> T {
        let Some(v) = value else {
            return default;
        };
        parse(v.get_ref()).unwrap_or_else(|| {
            self.report(unknown(what, v.get_ref(), v.span(), known));
            default
        })
    }

    fn component(&mut self, value: &Spanned<String>) -> Component {
        let names: Vec<&str> = Component::ALL.iter().map(|c| c.as_str()).collect();
        self.choice(
            "component",
            Some(value),
            Component::Agent,
            Component::from_name,
            &names,
        )
    }

    fn flow(&mut self, f: &RawFlow) -> Flow {
        let id = self.id("flow id", &f.id);
        let groups: Vec<&str> = Group::ALL.iter().map(|g| g.as_str()).collect();
        let group = self.choice(
            "group",
            f.group.as_ref(),
            Group::Custom,
            Group::from_name,
            &groups,
        );
        let initiator = self.component(&f.initiator);
        let responder = self.component(&f.responder);
        let protocol = self.choice(
            "protocol",
            f.protocol.as_ref(),
            Protocol::Tcp,
            |p| match p {
                "tcp" => Some(Protocol::Tcp),
                "udp" => Some(Protocol::Udp),
                _ => None,
            },
            &["tcp", "udp"],
        );
        let port = self.port(&f.port);
        let nfs_v3 = f.nfs_v3.as_ref().is_some_and(|v| *v.get_ref());
        if port == Port::NfsMountd && !nfs_v3 {
            self.report(
                Diagnostic::new(
                    "port \"nfs-mountd\" is only known on NFS servers that serve NFSv3",
                    f.port.span(),
                )
                .help("add nfs_v3 = true to the flow (it then applies to hosts that set nfs_mountd_port)"),
            );
        }
        let source_port = self.choice(
            "source port",
            f.source_port.as_ref(),
            SourcePort::Ephemeral,
            |p| match p {
                "ephemeral" => Some(SourcePort::Ephemeral),
                "any" => Some(SourcePort::Any),
                _ => None,
            },
            &["ephemeral", "any"],
        );
        let purpose = self.text("purpose", &f.purpose);
        let note = match &f.encryption {
            Some(e) => self.text("encryption", e),
            None => "not stated",
        };
        let classes: Vec<&str> = Encryption::ALL.iter().map(|e| e.as_str()).collect();
        let class = self.choice(
            "encryption class",
            f.encryption_class.as_ref(),
            Encryption::Unspecified,
            Encryption::from_name,
            &classes,
        );
        let encryption = EncryptionNote { class, note };
        let phase = self.choice(
            "phase",
            f.phase.as_ref(),
            Phase::Operate,
            Phase::from_name,
            &["install", "operate"],
        );
        let management_server = self.choice(
            "management_server value",
            f.management_server.as_ref(),
            Presence::Any,
            |p| match p {
                "any" => Some(Presence::Any),
                "present" => Some(Presence::Present),
                "absent" => Some(Presence::Absent),
                _ => None,
            },
            &["any", "present", "absent"],
        );
        let source = match &f.source {
            Some(s) => self.text("source", s),
            None => "user catalog",
        };
        let confidence = self.choice(
            "confidence",
            f.confidence.as_ref(),
            Confidence::Medium,
            Confidence::from_name,
            &["high", "medium", "low"],
        );
        Flow {
            id,
            group,
            initiator,
            responder,
            protocol,
            port,
            source_port,
            purpose,
            encryption,
            phase,
            condition: Condition {
                management_server,
                no_dns_only: f.no_dns_only,
                nfs_v3,
            },
            source,
            confidence,
        }
    }

    fn port(&mut self, raw: &Spanned<RawFlowPort>) -> Port {
        let span: Range<usize> = raw.span();
        match raw.get_ref() {
            RawFlowPort::Number(n) => match u16::try_from(*n) {
                Ok(p) if p > 0 => Port::Fixed(p),
                _ => {
                    self.report(
                        Diagnostic::new(format!("port {n} is out of range"), span).help(PORT_HELP),
                    );
                    Port::Acronis
                }
            },
            RawFlowPort::Text(t) if t == "acronis" => Port::Acronis,
            RawFlowPort::Text(t) if t == "nfs-mountd" => Port::NfsMountd,
            RawFlowPort::Text(t) => {
                self.report(Diagnostic::new(format!("invalid port {t:?}"), span).help(PORT_HELP));
                Port::Acronis
            }
        }
    }
}

const PORT_HELP: &str = "a port is 1-65535, \"acronis\" for the responder's Acronis port, or \
                         \"nfs-mountd\" for the port its NFS server pins mountd to";

fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}

/// The roles that play a component of some flow: the default `roles` of a catalog file.
fn roles_of(flows: &[Flow]) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|&role| {
            let oses = role.supported_os();
            flows.iter().any(|f| {
                [f.initiator, f.responder].into_iter().any(|c| {
                    c.matches(&[role], None) || oses.iter().any(|&os| c.matches(&[role], Some(os)))
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[release]
id = "site-11.5"
title = "Our 11.5 with a custom agent port"

[[flow]]
id = "agent-ms"
initiator = "agent"
responder = "ms"
port = "acronis"
purpose = "Registering"

[[flow]]
id = "agent-syslog"
initiator = "agent"
responder = "ms"
protocol = "udp"
port = 514
source_port = "any"
purpose = "Syslog"
confidence = "high"
"#;

    #[test]
    fn a_catalog_file_becomes_a_release() {
        let release = parse("c.toml", GOOD, &Catalog::builtin()).unwrap();
        assert_eq!(release.id, "site-11.5");
        assert_eq!(release.flows.len(), 2);
        assert_eq!(release.flows[1].port, Port::Fixed(514));
        assert_eq!(release.flows[1].source_port, SourcePort::Any);
        assert!(release.has_role(Role::Agent));
        assert!(release.has_role(Role::ManagementServer));
        assert!(!release.has_role(Role::LicenseServer));
    }

    #[test]
    fn mistakes_are_located() {
        let bad = GOOD
            .replace("\"ms\"\nport = \"acronis\"", "\"msx\"\nport = \"acronis\"")
            .replace("port = 514", "port = 70000");
        let err = parse("c.toml", &bad, &Catalog::builtin()).unwrap_err();
        let messages: Vec<&str> = err.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            ["unknown component \"msx\"", "port 70000 is out of range"]
        );
        let builtin = GOOD.replace("site-11.5", "abr-11.5");
        let err = parse("c.toml", &builtin, &Catalog::builtin()).unwrap_err();
        assert_eq!(
            err.diagnostics[0].message,
            "release \"abr-11.5\" is built in"
        );
    }
}
