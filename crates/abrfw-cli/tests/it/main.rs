//! The one integration-test binary: every test runs `abrfw` as a user would.
#![allow(clippy::print_stderr, dead_code)]

mod cli;
mod errors;
mod golden;
mod iptables;
mod netns;
mod nft;
mod ns;
mod pf;
mod scale;
mod support;
mod windows;
