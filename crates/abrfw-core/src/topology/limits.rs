//! Resource limits: a topology too large for abrfw to finish in bounded time and memory is
//! refused with a located error instead. Each limit is far above real sites (the scale bench
//! compiles 20,010 hosts) and keeps the worst case small enough to finish in seconds.

use std::ops::Range;

use crate::diagnostic::Diagnostic;

use super::raw::RawTopology;

/// Largest topology file, in bytes (32 MiB: a 100,000-host site with one IPv4 and one IPv6
/// address per host is about 13 MB). Checked before parsing, so parse time and memory stay
/// proportional to it.
pub const MAX_FILE_BYTES: usize = 32 << 20;

/// Most `[[host]]` tables (twice the 100,000-host sites the scale benchmark compiles).
pub const MAX_HOSTS: usize = 200_000;

/// Most `[[allow]]` tables.
pub const MAX_ALLOWS: usize = 200_000;

/// Most `[[gateway]]` tables.
pub const MAX_GATEWAYS: usize = 1_000;

/// Most `[[zone]]` tables.
pub const MAX_ZONES: usize = 1_000;

/// Most networks of one `[[zone]]`.
pub const MAX_NETWORKS_PER_ZONE: usize = 1_000;

/// Most addresses of one host; a network counts once (a /8 is one address).
pub const MAX_ADDRESSES_PER_HOST: usize = 1_000;

/// The file-size check: an error at the start of the file, before any parsing.
pub(crate) fn check_size(text: &str) -> Option<Diagnostic> {
    (text.len() > MAX_FILE_BYTES).then(|| {
        Diagnostic::new(
            format!(
                "the topology is {} bytes, more than abrfw reads ({MAX_FILE_BYTES} bytes, 32 MiB)",
                text.len()
            ),
            0..0,
        )
        .help("split the site into several topologies, or describe machines that share a rule set as one host with a network address")
    })
}

/// The count checks, after parsing and before resolving: one error per exceeded limit, at the
/// first table over it.
pub(crate) fn check_counts(raw: &RawTopology) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut over = |what: &str, count: usize, limit: usize, span: Option<Range<usize>>| {
        if count > limit {
            out.push(
                Diagnostic::new(
                    format!("too many {what}: {count}, the limit is {limit}"),
                    span.unwrap_or(0..0),
                )
                .help("describe machines that share a rule set as one host with a network address, or split the site"),
            );
        }
    };
    over(
        "[[host]] tables",
        raw.hosts.len(),
        MAX_HOSTS,
        raw.hosts.get(MAX_HOSTS).map(|h| h.name.span()),
    );
    over(
        "[[allow]] tables",
        raw.allows.len(),
        MAX_ALLOWS,
        raw.allows.get(MAX_ALLOWS).map(|a| a.name.span()),
    );
    over(
        "[[gateway]] tables",
        raw.gateways.len(),
        MAX_GATEWAYS,
        raw.gateways.get(MAX_GATEWAYS).map(|g| g.name.span()),
    );
    over(
        "[[zone]] tables",
        raw.zones.len(),
        MAX_ZONES,
        raw.zones.get(MAX_ZONES).map(|z| z.name.span()),
    );
    for z in &raw.zones {
        if let Some(networks) = &z.networks {
            let networks = networks.get_ref();
            over(
                "networks in one zone",
                networks.len(),
                MAX_NETWORKS_PER_ZONE,
                networks.get(MAX_NETWORKS_PER_ZONE).map(|n| n.span()),
            );
        }
    }
    for h in &raw.hosts {
        let addresses = h.addresses.get_ref();
        over(
            "addresses on one host",
            addresses.len(),
            MAX_ADDRESSES_PER_HOST,
            addresses.get(MAX_ADDRESSES_PER_HOST).map(|a| a.span()),
        );
    }
    out
}
