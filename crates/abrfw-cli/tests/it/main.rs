//! The one integration-test binary: every test runs `abrfw` as a user would.
#![allow(clippy::print_stderr, dead_code)]

mod ansible;
mod cli;
mod errors;
mod golden;
mod iptables;
mod json;
mod netns;
mod nft;
mod ns;
mod pf;
mod support;
mod tree;
mod windows;
