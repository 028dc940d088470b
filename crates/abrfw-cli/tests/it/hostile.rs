//! The injection corpus `fixtures/hostile/`: quotes, newlines, `;`, `$(...)`, backticks,
//! `%VAR%`, `^`, `&`, `|`, Unicode bidirectional overrides, NUL and over-long text in every field
//! that reaches an output. A case with a `.stderr` beside it must be refused with exactly that
//! message (exit 2, nothing written); a case without one must compile, every file must pass its
//! backend's validator, and the hostile text must change nothing but the lines that carry it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pretty_assertions::assert_eq;

use crate::golden::{compile_to_tree, compile_to_tree_with};
use crate::support::{abrfw, check_or_bless_hinted, fixture, root};
use crate::validate;

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixture("hostile"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    cases
}

#[test]
fn hostile_names_and_values_are_refused_with_located_errors() {
    let mut refused = 0;
    for case in cases() {
        let expected_path = case.with_extension("stderr");
        let rel = case.strip_prefix(root()).unwrap().to_str().unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("out");
        let run = abrfw(&["compile", rel, "--out-dir", dir.to_str().unwrap()]);
        if run.status.success() && !expected_path.exists() {
            continue;
        }
        refused += 1;
        let stderr = String::from_utf8(run.stderr).unwrap();
        assert_eq!(run.status.code(), Some(2), "{rel}: {stderr}");
        assert!(!dir.exists(), "{rel}: output was written");
        check_or_bless_hinted(
            &expected_path,
            &stderr,
            &format!("{rel} is refused: bless its message with ABRFW_BLESS=1"),
        );
        // Every problem is located; none is reported without a line.
        let errors =
            stderr.matches("\nerror: ").count() + usize::from(stderr.starts_with("error: "));
        assert_eq!(
            errors,
            stderr.matches(&format!(" --> {rel}:")).count(),
            "{rel}: an error without a location"
        );
    }
    assert!(refused >= 6, "only {refused} refused hostile cases");
}

/// The site with every `description = ...` line replaced by a plain one.
fn neutral(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("description = ") {
                "description = \"x\"".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn accepted_hostile_text_is_rendered_inert_in_every_backend() {
    let system = validate::system_validators();
    let mut accepted = 0;
    for case in cases() {
        if case.with_extension("stderr").exists() {
            continue;
        }
        accepted += 1;
        let label = case.file_stem().unwrap().to_string_lossy().into_owned();
        let files = compile_to_tree(&case);
        let checked = validate::tree(&label, &files, system);
        assert!(
            checked.nft > 0
                && checked.iptables > 0
                && checked.pf > 0
                && checked.ps1 > 0
                && checked.netsh > 0,
            "{label}: not every backend was exercised: {checked:?}"
        );
        // The backends a host chooses: firewalld.sh through firewall-offline-cmd, ufw.sh
        // through sh -n and the command pattern.
        for backend in crate::golden::chosen_backends() {
            let chosen = compile_to_tree_with(&case, &["--backend", backend]);
            let checked = validate::tree(&format!("{label}/{backend}"), &chosen, system);
            assert!(
                checked.firewalld + checked.ufw > 0,
                "{label}: no {backend} file: {checked:?}"
            );
        }
        // Against the same site with harmless descriptions: the same files, the same number of
        // lines, and only lines of `[[allow]]` rules differ.
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join(format!("{label}.toml"));
        std::fs::write(&plain, neutral(&std::fs::read_to_string(&case).unwrap())).unwrap();
        let reference: BTreeMap<PathBuf, String> = compile_to_tree(&plain);
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            reference.keys().collect::<Vec<_>>()
        );
        for (rel, text) in &files {
            // The manifest holds digests of the site and of every file: they differ by design.
            if rel.ends_with("abrfw.json") {
                continue;
            }
            // rules.json is data, one field a line: the hostile text must stay a string value,
            // and the documents must agree once the allow rules' purposes are set aside.
            if rel.ends_with("rules.json") {
                let blank = |text: &str| {
                    let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
                    for rule in doc["rules"].as_array_mut().unwrap() {
                        if rule["flow"].as_str().unwrap().starts_with("allow:") {
                            rule["purpose"] = serde_json::Value::Null;
                        }
                    }
                    doc
                };
                assert_eq!(
                    blank(text),
                    blank(&reference[rel]),
                    "{label}/{}: hostile text changed more than the allow rules' purposes",
                    rel.display()
                );
                continue;
            }
            let (a, b): (Vec<&str>, Vec<&str>) =
                (text.lines().collect(), reference[rel].lines().collect());
            assert_eq!(
                a.len(),
                b.len(),
                "{label}/{}: hostile text changed the number of lines",
                rel.display()
            );
            for (x, y) in a.iter().zip(&b) {
                if x != y {
                    assert!(
                        x.contains("allow:") && y.contains("allow:"),
                        "{label}/{}: a line without an allow rule differs:\n{x}\n{y}",
                        rel.display()
                    );
                }
            }
        }
    }
    assert!(accepted >= 1, "no accepted hostile case");
}
