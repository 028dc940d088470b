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

use std::collections::BTreeMap;

/// Distinct keys numbered from 1 in order of first use, each with the view a backend made for it
/// when it was first seen: how every backend names its shared address sets (nftables sets,
/// ipsets, pf tables), so that the same peers always get the same, stable number.
#[derive(Debug)]
pub struct Numbering<K, V> {
    numbers: BTreeMap<K, usize>,
    views: Vec<V>,
}

impl<K: Ord, V> Default for Numbering<K, V> {
    fn default() -> Self {
        Self {
            numbers: BTreeMap::new(),
            views: Vec::new(),
        }
    }
}

impl<K: Ord, V> Numbering<K, V> {
    /// The view of `key`, made by `make(number, &key)` the first time the key is seen.
    pub fn get(&mut self, key: K, make: impl FnOnce(usize, &K) -> V) -> &V {
        let next = self.numbers.len() + 1;
        let views = &mut self.views;
        let number = *self.numbers.entry(key).or_insert_with_key(|key| {
            views.push(make(next, key));
            next
        });
        &self.views[number - 1]
    }

    /// Every view, in number order.
    pub fn views(&self) -> &[V] {
        &self.views
    }

    /// Every view, in number order.
    pub fn into_views(self) -> Vec<V> {
        self.views
    }
}

#[cfg(test)]
mod tests {
    use super::Numbering;

    #[test]
    fn keys_are_numbered_in_order_of_first_use_and_shared() {
        let mut n: Numbering<&str, String> = Numbering::default();
        assert_eq!(n.get("b", |i, k| format!("{k}{i}")), "b1");
        assert_eq!(n.get("a", |i, k| format!("{k}{i}")), "a2");
        assert_eq!(n.get("b", |_, _| unreachable!("made once")), "b1");
        assert_eq!(n.views(), ["b1", "a2"]);
    }
}
