//! Golden files: `fixtures/expected/<topology>/<host>/<file>` mirror `abrfw compile --out-dir`.
//! Regenerate with `ABRFW_BLESS=1 cargo test`; CI never blesses. A reference that no run
//! produced fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use crate::support::{abrfw, fixture, topologies};

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

/// Backends no fixture site chooses by default: their references are
/// `fixtures/expected/<backend>/<topology>/`, compiled with `--backend <backend>`.
pub const CHOSEN_BACKENDS: [&str; 2] = ["firewalld", "ufw"];

#[test]
fn generated_files_match_the_references() {
    let mut runs: Vec<(String, PathBuf, Vec<&str>)> = topologies()
        .into_iter()
        .map(|(name, path)| (name, path, Vec::new()))
        .collect();
    for backend in CHOSEN_BACKENDS {
        for (name, path) in topologies() {
            runs.push((format!("{backend}/{name}"), path, vec!["--backend", backend]));
        }
    }
    let bless = std::env::var_os("ABRFW_BLESS").is_some_and(|v| v == "1");
    for (name, path, extra) in runs {
        let actual = compile_to_tree_with(&path, &extra);
        let expected_dir = fixture("expected").join(&name);
        if bless {
            let _ = std::fs::remove_dir_all(&expected_dir);
            for (rel, text) in &actual {
                let target = expected_dir.join(rel);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(target, text).unwrap();
            }
            continue;
        }
        let expected = tree(&expected_dir);
        let actual_names: Vec<&PathBuf> = actual.keys().collect();
        let expected_names: Vec<&PathBuf> = expected.keys().collect();
        assert_eq!(
            expected_names, actual_names,
            "files of topology {name} (references without a producer fail too); bless with ABRFW_BLESS=1"
        );
        for (rel, text) in &actual {
            assert_eq!(
                &expected[rel],
                text,
                "{name}/{} differs from its reference; if the change is intended, rerun with ABRFW_BLESS=1",
                rel.display()
            );
        }
    }
}

#[test]
fn every_reference_belongs_to_a_fixture_topology() {
    let names: Vec<String> = topologies().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(fixture("expected")).expect("fixtures/expected") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if CHOSEN_BACKENDS.contains(&name.as_str()) {
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
