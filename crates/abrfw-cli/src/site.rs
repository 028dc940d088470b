//! Loading a topology: from a file or the built-in example, with located errors.

use std::io::Write;
use std::path::Path;

use abrfw_core::catalog::file;
use abrfw_core::{Catalog, Release, Topology, TopologyError, Warnings, topology};

use crate::args::SiteArgs;

/// The built-in example site (also `fixtures/topologies/example.toml`).
pub const EXAMPLE: &str = include_str!("../../../fixtures/topologies/example.toml");

/// What went wrong loading a site.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        path: String,
        // Not a `source`: the message says it once, and `{:#}` would repeat it.
        error: std::io::Error,
    },
    /// The file is larger than abrfw reads.
    #[error(
        "{path} is larger than {} bytes (32 MiB), the most abrfw reads; split the site",
        topology::MAX_FILE_BYTES
    )]
    TooLarge { path: String },
    /// The file is not a valid topology (or catalog).
    #[error("{0}")]
    Invalid(Box<TopologyError>),
    /// --release, --from or --to names no known release.
    #[error("unknown release {id:?}; known: {known}")]
    UnknownRelease { id: String, known: String },
}

/// The built-in catalog, plus the release of `--catalog FILE` when given.
pub fn catalog(path: Option<&Path>) -> Result<(Catalog, Option<&'static Release>), LoadError> {
    let builtin = Catalog::builtin();
    let Some(path) = path else {
        return Ok((builtin, None));
    };
    let text = read(path)?;
    let release = file::parse(&display(path), topology::without_bom(&text), &builtin)
        .map_err(|e| LoadError::Invalid(Box::new(e)))?;
    Ok((builtin.with(release), Some(release)))
}

/// The release with this id, or an error listing the known ones.
pub fn release(catalog: &Catalog, id: &str) -> Result<&'static Release, LoadError> {
    catalog
        .release(id)
        .ok_or_else(|| LoadError::UnknownRelease {
            id: id.to_owned(),
            known: catalog.ids().join(", "),
        })
}

/// Loads the catalog and the site the arguments name, and applies --release / --catalog: the
/// site compiles under --release, else under the --catalog release, else under its own.
pub fn load_site(args: &SiteArgs) -> Result<(Catalog, Topology), LoadError> {
    load_site_with_text(args).map(|(catalog, topology, _)| (catalog, topology))
}

/// Like [`load_site`], and also returns the exact text that was parsed (for the manifest's
/// digest).
pub fn load_site_with_text(args: &SiteArgs) -> Result<(Catalog, Topology, String), LoadError> {
    let (catalog, loaded) = catalog(args.catalog.as_deref())?;
    let (mut topology, text) = load_with_text(args, &catalog)?;
    match (&args.release, loaded) {
        (Some(id), _) => topology.release = release(&catalog, id)?,
        (None, Some(r)) => topology.release = r,
        (None, None) => {}
    }
    Ok((catalog, topology, text))
}

/// The built-in example site, validated.
pub fn load_example(catalog: &Catalog) -> Result<Topology, LoadError> {
    parse("<example>", EXAMPLE, catalog)
}

/// Reads and validates a topology file.
pub fn load_path(path: &Path, catalog: &Catalog) -> Result<Topology, LoadError> {
    parse(&display(path), &read(path)?, catalog)
}

/// Parses a topology and checks its backend lists against the backend table (core knows no
/// backend, so that check is made here).
fn parse(name: &str, text: &str, catalog: &Catalog) -> Result<Topology, LoadError> {
    let invalid = |diagnostics| {
        LoadError::Invalid(Box::new(TopologyError {
            path: name.to_owned(),
            source_text: text.to_owned(),
            diagnostics,
        }))
    };
    let topology =
        topology::parse(name, text, catalog).map_err(|e| LoadError::Invalid(Box::new(e)))?;
    abrfw_backends::choose(&topology).map_err(invalid)?;
    Ok(topology)
}

/// The backends chosen for each host and gateway of a site [`load_site`] loaded (and so
/// checked).
pub fn choice(topology: &Topology) -> anyhow::Result<abrfw_backends::Choice> {
    abrfw_backends::choose(topology).map_err(|d| {
        anyhow::anyhow!(
            "the site's backend lists do not fit the backend table: {}",
            d.iter()
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

/// One line per host role that the topology's release has no flows for.
pub fn idle_notes(topology: &Topology) -> Vec<String> {
    let release = topology.release;
    topology
        .hosts
        .iter()
        .flat_map(|h| {
            release.idle_roles(&h.roles).into_iter().map(move |r| {
                format!(
                    "note: host {}: role {r} has no flows in release {}",
                    h.name, release.id
                )
            })
        })
        .collect()
}

/// Reads and validates the site the arguments name, and returns the exact text that was parsed
/// too (for the manifest's digest). Warnings go to stderr, or with `--strict` become the error.
fn load_with_text(args: &SiteArgs, catalog: &Catalog) -> Result<(Topology, String), LoadError> {
    let (name, text) = match &args.site {
        Some(path) => (display(path), read(path)?),
        None => ("<example>".to_owned(), EXAMPLE.to_owned()),
    };
    // A byte-order mark is not part of the first line: columns count from after it.
    let parsed = topology::without_bom(&text);
    let mut topology = parse(&name, parsed, catalog)?;
    if topology.warnings.is_empty() {
        return Ok((topology, text));
    }
    if args.strict {
        return Err(LoadError::Invalid(Box::new(TopologyError {
            path: name,
            source_text: parsed.to_owned(),
            diagnostics: topology.warnings,
        })));
    }
    let warnings = Warnings {
        path: &name,
        source_text: parsed,
        diagnostics: &topology.warnings,
    };
    // A closed stderr must not stop the compilation the warnings are about.
    let _ = write!(std::io::stderr().lock(), "{warnings}");
    // Said: a site without admin rules has one per host (160 MB for 100,000 hosts), which
    // nothing after this reads.
    topology.warnings = Vec::new();
    Ok((topology, text))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Reads at most [`topology::MAX_FILE_BYTES`] bytes: a larger file (or an endless one such as
/// /dev/zero) is refused without reading it all.
fn read(path: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let io = |error| LoadError::Read {
        path: display(path),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(topology::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > topology::MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: display(path),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        LoadError::Invalid(Box::new(topology::not_utf8(
            &display(path),
            e.as_bytes(),
            e.utf8_error().valid_up_to(),
        )))
    })
}
