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
    #[serde(default, rename = "zone")]
    pub zones: Vec<RawZone>,
}

/// One `[[zone]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    pub name: Spanned<String>,
    pub networks: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[options]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptions {
    pub phases: Option<Spanned<Vec<Spanned<String>>>>,
    pub dns: Option<bool>,
    pub policy: Option<Spanned<String>>,
    pub outbound: Option<Spanned<String>>,
    pub acronis_port: Option<Spanned<RawPortNumber>>,
    pub log: Option<Spanned<String>>,
    pub linux_backends: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One `[[host]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub name: Spanned<String>,
    pub os: Option<Spanned<String>>,
    pub addresses: Spanned<Vec<Spanned<String>>>,
    pub roles: Spanned<Vec<Spanned<String>>>,
    pub acronis_port: Option<Spanned<RawPortNumber>>,
    pub nfs_mountd_port: Option<Spanned<RawPortNumber>>,
    pub ephemeral_ports: Option<Spanned<RawPort>>,
    pub zone: Option<Spanned<String>>,
    pub log: Option<Spanned<String>>,
    pub backends: Option<Spanned<Vec<Spanned<String>>>>,
    pub policy: Option<Spanned<String>>,
    pub outbound: Option<Spanned<String>>,
    pub phases: Option<Spanned<Vec<Spanned<String>>>>,
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
    pub backends: Option<Spanned<Vec<Spanned<String>>>>,
    pub policy: Option<Spanned<String>>,
}

/// One `[[allow]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllow {
    pub name: Spanned<String>,
    pub from: Spanned<OneOrMany>,
    pub to: Spanned<OneOrMany>,
    pub port: Option<Spanned<OneOrMany>>,
    pub protocol: Option<Spanned<String>>,
    pub service: Option<Spanned<OneOrMany>>,
    pub description: Option<Spanned<String>>,
}

/// A value written once (`"db"`, `22`) or as a list (`["db", "web"]`, `[22, "8000-8100"]`).
/// A list item keeps its own span; a single value takes the span of the key's value.
#[derive(Debug)]
pub struct OneOrMany {
    pub items: Vec<(Option<std::ops::Range<usize>>, RawPort)>,
}

impl OneOrMany {
    /// Each item with its span (the whole value's span for a single value).
    pub fn spanned<'a>(
        outer: &'a Spanned<OneOrMany>,
    ) -> impl Iterator<Item = (std::ops::Range<usize>, &'a RawPort)> + 'a {
        outer
            .get_ref()
            .items
            .iter()
            .map(move |(s, v)| (s.clone().unwrap_or_else(|| outer.span()), v))
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"a port number (22) or a range as a string ("8000-8100") for `port`, a host name, address or selector for `from`/`to`, a service name for `service`, or a list of them"#)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany {
                    items: vec![(None, RawPort::Number(n))],
                })
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<OneOrMany, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
            }
            fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany {
                    items: vec![(None, RawPort::Text(t.to_owned()))],
                })
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Spanned<RawPort>>()? {
                    let span = v.span();
                    items.push((Some(span), v.into_inner()));
                }
                Ok(OneOrMany { items })
            }
        }
        d.deserialize_any(V)
    }
}

/// A port as written: `22` or `"8000-8100"`. Deserialized by hand so that a value of the
/// wrong type says what the key takes, not serde's "untagged enum".
#[derive(Debug)]
pub enum RawPort {
    Number(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawPort {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawPort;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"a port number (22) or a range as a string ("8000-8100")"#)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<RawPort, E> {
                Ok(RawPort::Number(n))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<RawPort, E> {
                Ok(RawPort::Number(i64::try_from(n).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<RawPort, E> {
                Ok(RawPort::Text(t.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A port number as written: `9876`. Deserialized by hand for the same reason as [`RawPort`].
#[derive(Debug, Clone, Copy)]
pub struct RawPortNumber(pub i64);

impl<'de> Deserialize<'de> for RawPortNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawPortNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port number from 1 to 65535, without quotes (9876)")
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<RawPortNumber, E> {
                Ok(RawPortNumber(n))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<RawPortNumber, E> {
                Ok(RawPortNumber(i64::try_from(n).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}
