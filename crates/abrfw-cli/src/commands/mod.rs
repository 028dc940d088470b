//! One module per subcommand.

pub mod check;
pub mod compile;
pub mod flows;
pub mod inventory;
