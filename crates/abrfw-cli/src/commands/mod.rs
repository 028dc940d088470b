//! One module per subcommand.

pub mod check;
pub mod compile;
pub mod diff;
pub mod encryption;
pub mod explain;
pub mod flows;
pub mod graph;
pub mod inventory;
pub mod query;
pub mod releases;
pub mod schema;
