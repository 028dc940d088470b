//! The one integration-test binary: every test runs `abrfw` as a user would.
#![allow(clippy::print_stderr, dead_code)]

mod ansible;
mod choice;
mod cli;
mod diff;
mod errors;
mod explain;
mod gateway;
mod generated;
mod golden;
mod hostile;
mod iptables;
mod json;
mod limits;
mod lockout;
mod netns;
mod nft;
mod ns;
mod pf;
mod props;
mod scale;
mod support;
mod tree;
mod validate;
mod windows;
