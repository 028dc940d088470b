//! The topology file exactly as written: serde types that mirror the TOML, with spans on every
//! value a later check may reject, so each error can point at file, line and column.

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopology {
    pub release: Option<Spanned<String>>,
    #[serde(default)]
    pub options: RawOptions,
    #[serde(default, rename = "host")]
    pub hosts: Vec<RawHost>,
    #[serde(default, rename = "allow")]
    pub allows: Vec<RawAllow>,
    #[serde(default, rename = "gateway")]
    pub gateways: Vec<RawGateway>,
}

/// `[options]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptions {
    pub phases: Option<Spanned<Vec<Spanned<String>>>>,
    pub dns: Option<bool>,
    pub policy: Option<Spanned<String>>,
    pub acronis_port: Option<Spanned<i64>>,
}

/// One `[[host]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub name: Spanned<String>,
    pub os: Option<Spanned<String>>,
    pub addresses: Spanned<Vec<Spanned<String>>>,
    pub roles: Spanned<Vec<Spanned<String>>>,
    pub acronis_port: Option<Spanned<i64>>,
    pub ephemeral_ports: Option<Spanned<RawPort>>,
    pub zone: Option<Spanned<String>>,
}

/// One `[[gateway]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    pub name: Spanned<String>,
    pub os: Spanned<String>,
    pub zones: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub interfaces: std::collections::BTreeMap<Spanned<String>, Spanned<String>>,
}

/// One `[[allow]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllow {
    pub name: Spanned<String>,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub port: Spanned<RawPort>,
    pub protocol: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
}

/// A port as written: `22` or `"8000-8100"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPort {
    Number(i64),
    Text(String),
}
