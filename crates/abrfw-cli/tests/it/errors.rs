//! Bad topologies: `fixtures/invalid/<case>.toml` beside `<case>.stderr`, the whole expected
//! message. Each must exit 2 and write nothing.

use pretty_assertions::assert_eq;

use crate::support::{abrfw, check_or_bless, fixture};

#[test]
fn invalid_topologies_get_located_errors_and_no_output() {
    let mut cases: Vec<_> = std::fs::read_dir(fixture("invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the invalid fixtures, found {}",
        cases.len()
    );
    for case in cases {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("out");
        // Relative path, so the message reads as the user would see it.
        let rel = case.strip_prefix(crate::support::root()).unwrap();
        let run = abrfw(&[
            "compile",
            rel.to_str().unwrap(),
            "--out-dir",
            dir.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8(run.stderr).unwrap();
        assert_eq!(run.status.code(), Some(2), "{}: {stderr}", case.display());
        assert!(!dir.exists(), "{}: output was written", case.display());
        assert!(
            stderr.contains(" --> fixtures/invalid/"),
            "{}: no location in {stderr}",
            case.display()
        );
        check_or_bless(&case.with_extension("stderr"), &stderr);
        let expected = stderr;
        // `check` reports the same error.
        let check = abrfw(&["check", rel.to_str().unwrap()]);
        assert_eq!(check.status.code(), Some(2));
        assert_eq!(String::from_utf8(check.stderr).unwrap(), expected);
    }
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let run = abrfw(&["check", "no/such/site.toml"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("error: cannot read no/such/site.toml"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_prints_its_cause_once() {
    let run = abrfw(&["check", "no/such/site.toml"]);
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "error: cannot read no/such/site.toml: No such file or directory (os error 2)\n"
    );
}
