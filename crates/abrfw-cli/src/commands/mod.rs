//! One module per subcommand.

pub mod check;
pub mod compile;
pub mod diff;
pub mod flows;
pub mod releases;
