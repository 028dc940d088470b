//! Loading a topology: from a file or the built-in example, with located errors.

use std::path::Path;

use std::io::Write;

use abrfw_core::{Catalog, Topology, TopologyError, Warnings, topology};

use crate::args::SiteArgs;

/// The built-in example site (also `fixtures/topologies/example.toml`).
pub const EXAMPLE: &str = include_str!("../../../fixtures/topologies/example.toml");

/// What went wrong loading a site.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The file is larger than abrfw reads.
    #[error(
        "{path} is larger than {} bytes (8 MiB), the most abrfw reads; split the site",
        topology::MAX_FILE_BYTES
    )]
    TooLarge { path: String },
    /// The file is not a valid topology.
    #[error("{0}")]
    Invalid(Box<TopologyError>),
}

/// Reads and validates the site the arguments name. Warnings go to stderr, or with `--strict`
/// become the error.
pub fn load(args: &SiteArgs, catalog: &Catalog) -> Result<Topology, LoadError> {
    let (name, text) = match &args.site {
        Some(path) => (display(path), read(path)?),
        None => ("<example>".to_owned(), EXAMPLE.to_owned()),
    };
    let topology =
        topology::parse(&name, &text, catalog).map_err(|e| LoadError::Invalid(Box::new(e)))?;
    if topology.warnings.is_empty() {
        return Ok(topology);
    }
    if args.strict {
        return Err(LoadError::Invalid(Box::new(TopologyError {
            path: name,
            source_text: text,
            diagnostics: topology.warnings,
        })));
    }
    let warnings = Warnings {
        path: &name,
        source_text: &text,
        diagnostics: &topology.warnings,
    };
    // A closed stderr must not stop the compilation the warnings are about.
    let _ = write!(std::io::stderr().lock(), "{warnings}");
    Ok(topology)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Reads at most [`topology::MAX_FILE_BYTES`] bytes: a larger file (or an endless one such as
/// /dev/zero) is refused without reading it all.
fn read(path: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Read {
        path: display(path),
        source,
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
    String::from_utf8(bytes)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}
