//! Loading a topology: from a file or the built-in example, with located errors.

use std::path::Path;

use abrfw_core::{Catalog, Topology, TopologyError, topology};

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
    /// The file is not a valid topology.
    #[error("{0}")]
    Invalid(Box<TopologyError>),
}

/// Reads and validates the site the arguments name.
pub fn load(args: &SiteArgs, catalog: &Catalog) -> Result<Topology, LoadError> {
    load_with_text(args, catalog).map(|(topology, _)| topology)
}

/// Like [`load`], and also returns the exact text that was parsed (for the manifest's digest).
pub fn load_with_text(args: &SiteArgs, catalog: &Catalog) -> Result<(Topology, String), LoadError> {
    let (name, text) = match &args.site {
        Some(path) => (display(path), read(path)?),
        None => ("<example>".to_owned(), EXAMPLE.to_owned()),
    };
    let topology =
        topology::parse(&name, &text, catalog).map_err(|e| LoadError::Invalid(Box::new(e)))?;
    Ok((topology, text))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: display(path),
        source,
    })
}
