//! Golden files: `fixtures/expected/<topology>/<host>/<file>` mirror `abrfw compile --out-dir`.
//! `fixtures/check/<topology>.txt` is `abrfw check`'s summary. One test per topology.
//! Regenerate with `ABRFW_BLESS=1 cargo test`; CI never blesses. A reference that no run
//! produced fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use crate::support::{abrfw, check_or_bless, check_tree_or_bless, fixture, topologies};

/// Every file under `dir`, keyed by path relative to it.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            // The writers' lock (`compile --out-dir`) is not output: it is empty between runs.
            if path.file_name().is_some_and(|n| n == ".abrfw.lock") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("prefix").to_path_buf();
                files.insert(rel, std::fs::read_to_string(&path).expect("read"));
            }
        }
    }
    files
}

/// Compiles a fixture into a fresh temporary directory and returns what was written.
pub fn compile_to_tree(topology: &Path) -> BTreeMap<PathBuf, String> {
    compile_to_tree_with(topology, &[])
}

/// Like [`compile_to_tree`], with more arguments (`--backend ufw`).
pub fn compile_to_tree_with(topology: &Path, extra: &[&str]) -> BTreeMap<PathBuf, String> {
    let out = tempfile::tempdir().expect("tempdir");
    let mut args = vec![
        "compile",
        topology.to_str().unwrap(),
        "--out-dir",
        out.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = abrfw(&args);
    assert!(
        run.status.success(),
        "compile {}: {}",
        topology.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    tree(out.path())
}

/// Compiles `fixtures/topologies/<name>.toml` and compares the tree with
/// `fixtures/expected/<name>/`, and `abrfw check`'s summary with `fixtures/check/<name>.txt`.
fn golden(name: &str) {
    let path = fixture("topologies").join(format!("{name}.toml"));
    let actual = compile_to_tree(&path);
    let expected_dir = fixture("expected").join(name);
    let check = abrfw(&["check", path.to_str().unwrap()]);
    assert!(check.status.success(), "check {name}");
    check_or_bless(
        &fixture("check").join(format!("{name}.txt")),
        &String::from_utf8_lossy(&check.stdout),
    );
    check_tree_or_bless(&expected_dir, &actual);
}

/// One `#[test]` per fixture topology, so every mismatch is named; a test below checks that the
/// list is the whole of fixtures/topologies/.
macro_rules! golden_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        const GOLDEN: &[&str] = &[$($name),*];
        $(
            #[test]
            fn $test() {
                golden($name);
            }
        )*
    };
}

golden_tests! {
    golden_backend_choice => "backend-choice",
    golden_example => "example",
    golden_gateway_zones => "gateway-zones",
    golden_host_policy => "host-policy",
    golden_install_only => "install-only",
    golden_logging => "logging",
    golden_nfs_v3 => "nfs-v3",
    golden_nodns_nomgmt => "nodns-nomgmt",
    golden_pf => "pf",
    golden_pf_fragment => "pf-fragment",
    golden_selectors => "selectors",
    golden_services => "services",
    golden_windows_fragment => "windows-fragment",
    golden_windows_policy => "windows-policy",
    golden_zones => "zones",
}

#[test]
fn every_fixture_topology_has_a_golden_test() {
    let names: Vec<String> = topologies().into_iter().map(|(n, _)| n).collect();
    let listed: Vec<String> = GOLDEN.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        names, listed,
        "add the fixture to golden_tests! in tests/it/golden.rs"
    );
}

/// Backends `compile --out-dir` writes only when a site chooses them (the table's rows with
/// `default: false`): their references are `fixtures/expected/<backend>/<topology>/`, compiled
/// with `--backend <backend>`.
pub fn chosen_backends() -> Vec<&'static str> {
    abrfw_backends::BACKENDS
        .iter()
        .filter(|b| !b.default)
        .map(|b| b.name)
        .collect()
}

/// Every fixture topology compiled with `--backend <backend>` against
/// `fixtures/expected/<backend>/<topology>/`.
fn golden_chosen(backend: &str) {
    for (name, path) in topologies() {
        let actual = compile_to_tree_with(&path, &["--backend", backend]);
        let expected_dir = fixture("expected").join(backend).join(&name);
        check_tree_or_bless(&expected_dir, &actual);
    }
}

#[test]
fn golden_every_chosen_backend_every_topology() {
    let chosen = chosen_backends();
    assert!(
        !chosen.is_empty(),
        "firewalld and ufw are rows with default: false"
    );
    for backend in chosen {
        golden_chosen(backend);
    }
}

#[test]
fn every_reference_belongs_to_a_fixture_topology() {
    let names: Vec<String> = topologies().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(fixture("expected")).expect("fixtures/expected") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if chosen_backends().contains(&name.as_str()) {
            for entry in std::fs::read_dir(fixture("expected").join(&name)).unwrap() {
                let topology = entry.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    names.contains(&topology),
                    "fixtures/expected/{name}/{topology} has no fixtures/topologies/{topology}.toml"
                );
            }
            continue;
        }
        assert!(
            names.contains(&name),
            "fixtures/expected/{name} has no fixtures/topologies/{name}.toml"
        );
    }
}
