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

use std::collections::{BTreeMap, HashMap};

/// The class layout's host classes (`compile --layout classes`), for a backend that names a
/// rule's peer hosts: where every member of a class is among a rule's peers, the class name can
/// stand for them, so that a class's files do not list every member of the classes it talks to.
#[derive(Debug, Default)]
pub struct PeerClasses {
    /// Host name -> its class's index in `classes`.
    class_of: HashMap<String, usize>,
    /// Each class's name and number of members.
    classes: Vec<(String, usize)>,
}

impl PeerClasses {
    /// The classes, each with its members' names.
    pub fn new<'a>(classes: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Self {
        let mut out = Self::default();
        for (name, members) in classes {
            let index = out.classes.len();
            out.classes.push((name.to_owned(), members.len()));
            for m in members {
                out.class_of.insert(m.clone(), index);
            }
        }
        out
    }

    /// Splits `hosts` into the names of the classes all of whose members are among them
    /// (sorted) and the hosts left over (in their order).
    pub fn fold(&self, hosts: &[String]) -> (Vec<String>, Vec<String>) {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for h in hosts {
            if let Some(&c) = self.class_of.get(h) {
                *counts.entry(c).or_default() += 1;
            }
        }
        let whole = |c: usize| counts.get(&c) == Some(&self.classes[c].1);
        let mut names: Vec<String> = counts
            .keys()
            .filter(|&&c| whole(c))
            .map(|&c| self.classes[c].0.clone())
            .collect();
        names.sort();
        let rest = hosts
            .iter()
            .filter(|h| !self.class_of.get(*h).is_some_and(|&c| whole(c)))
            .cloned()
            .collect();
        (names, rest)
    }
}

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
    use super::{Numbering, PeerClasses};

    #[test]
    fn whole_classes_stand_for_their_members_and_partial_ones_do_not() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (a, b, c) = (names(&["a1", "a2"]), names(&["b1", "b2"]), names(&["c1"]));
        let classes = PeerClasses::new([
            ("class-b", b.as_slice()),
            ("class-a", a.as_slice()),
            ("class-c", c.as_slice()),
        ]);
        let (whole, rest) = classes.fold(&names(&["a1", "a2", "b1", "c1", "nas"]));
        assert_eq!(whole, ["class-a", "class-c"]);
        assert_eq!(rest, ["b1", "nas"]);
        assert_eq!(classes.fold(&[]), (vec![], vec![]));
    }

    #[test]
    fn keys_are_numbered_in_order_of_first_use_and_shared() {
        let mut n: Numbering<&str, String> = Numbering::default();
        assert_eq!(n.get("b", |i, k| format!("{k}{i}")), "b1");
        assert_eq!(n.get("a", |i, k| format!("{k}{i}")), "a2");
        assert_eq!(n.get("b", |_, _| unreachable!("made once")), "b1");
        assert_eq!(n.views(), ["b1", "a2"]);
    }
}
