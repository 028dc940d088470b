//! The shape every backend crate renders into; no syntax here.
//!
//! Every backend crate exposes the same contract (see `docs/backends/adding.md`):
//!
//! ```text
//! pub const NAME: &str;
//! pub fn render(host: &HostRules, opts: &Options) -> Result<Files, Error>;
//! pub fn render_gateway(gw: &GatewayRules, opts: &Options) -> Result<Option<Files>, Error>;
//! ```
//!
//! and the `abrfw-backends` table lists each one once.

/// The files one backend writes for one host or gateway: `(file name, contents)` in load order.
pub type Files = Vec<(&'static str, String)>;
