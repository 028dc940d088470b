//! `abrfw logs`: sample drop lines of every form it reads (fixtures/logs/, written after the
//! formats the kernel's nf_log_syslog, Windows Defender Firewall's W3C pfirewall.log and
//! tcpdump's pflog printer produce), attributed against fixtures/topologies/logging.toml; the
//! text and JSON reports are golden files in fixtures/logs/expected/. Lines the kernel itself
//! writes in the namespace lab are attributed in `netns.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::support::{abrfw, check_tree_or_bless, fixture};

/// (case, files, `--host`).
const CASES: &[(&str, &[&str], Option<&str>)] = &[
    ("kern-log", &["kern.log"], None),
    ("journal-gateway", &["journal.txt"], None),
    ("pfirewall-ams", &["pfirewall.log"], Some("ams")),
    ("pflog-freebsd-nas", &["pflog.txt"], Some("nas")),
    (
        "pflog-openbsd-gateway",
        &["pflog-openbsd.txt"],
        Some("fw-bsd"),
    ),
    (
        "all-files",
        &["kern.log", "journal.txt", "pfirewall.log", "pflog.txt"],
        None,
    ),
];

#[test]
fn logs_attribute_every_sample_line() {
    let mut produced = BTreeMap::new();
    for (case, files, host) in CASES {
        let mut args = vec!["logs", "fixtures/topologies/logging.toml"];
        let paths: Vec<String> = files.iter().map(|f| format!("fixtures/logs/{f}")).collect();
        args.extend(paths.iter().map(String::as_str));
        if let Some(h) = host {
            args.extend(["--host", h]);
        }
        let out = abrfw(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        produced.insert(
            PathBuf::from(format!("{case}.txt")),
            String::from_utf8(out.stdout).unwrap(),
        );
        args.extend(["--format", "json"]);
        let out = abrfw(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let json = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str::<serde_json::Value>(&json).expect("logs --format json is JSON");
        produced.insert(PathBuf::from(format!("{case}.json")), json);
    }
    check_tree_or_bless(&fixture("logs/expected"), &produced);
}

#[test]
fn an_unreadable_log_file_is_an_error() {
    let out = abrfw(&[
        "logs",
        "fixtures/topologies/logging.toml",
        "fixtures/logs/no-such.log",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read fixtures/logs/no-such.log"),
        "{err}"
    );
    let out = abrfw(&["logs", "fixtures/topologies/logging.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no log file given"));
}

#[test]
fn logs_read_standard_input() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_abrfw"))
        .args(["logs", "fixtures/topologies/logging.toml", "-"])
        .current_dir(crate::support::root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run abrfw");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(fixture("logs/kern.log")).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("read -: 11 lines, 8 drops"), "{text}");
    assert!(text.contains("wrong source port: ms-agent"), "{text}");
}
