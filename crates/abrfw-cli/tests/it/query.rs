//! `abrfw query`: golden files for connections through the fixture sites, exit codes, errors.
//!
//! References live in `fixtures/query/<topology>/<case>.{txt,json}`; the first line of each text
//! reference is the exit status. `ABRFW_BLESS=1` rewrites them. That query's verdicts equal the
//! kernel's is checked in `netns.rs`, for every probe the namespace tests make.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::explain::check_golden;
use crate::support::{abrfw, fixture};

/// (topology, case name, arguments after the site).
const CASES: [(&str, &str, &[&str]); 16] = [
    (
        "example",
        "agent-registers",
        &["--from", "linux-agent", "--to", "ams", "--port", "9876"],
    ),
    (
        "example",
        "agent-to-vault-wrong-port",
        &["--from", "linux-agent", "--to", "nas", "--port", "9876"],
    ),
    (
        "example",
        "wrong-source-port",
        &[
            "--from",
            "linux-agent",
            "--to",
            "ams",
            "--port",
            "9876",
            "--sport",
            "20000",
        ],
    ),
    (
        "example",
        "legacy-windows-ok",
        &[
            "--from", "xp-agent", "--to", "ams", "--port", "9876", "--sport", "1030",
        ],
    ),
    (
        "example",
        "admin-ssh-from-address",
        &["--from", "198.51.100.7", "--to", "nas", "--port", "22"],
    ),
    (
        "example",
        "stranger-to-nas",
        &["--from", "192.0.2.99", "--to", "nas", "--port", "445"],
    ),
    (
        "example",
        "reverse-direction",
        &["--from", "nas", "--to", "linux-agent", "--port", "445"],
    ),
    (
        "example",
        "push-install-over-ssh",
        &[
            "--from",
            "ams",
            "--to",
            "linux-agent",
            "--port",
            "22",
            "--family",
            "6",
        ],
    ),
    (
        "example",
        "console-not-installer",
        &["--from", "console", "--to", "linux-agent", "--port", "22"],
    ),
    (
        "example",
        "udp-undocumented",
        &[
            "--from",
            "linux-agent",
            "--to",
            "ams",
            "--port",
            "9876",
            "--protocol",
            "udp",
        ],
    ),
    (
        "example",
        "to-peer-without-os",
        &["--from", "vmware-va", "--to", "vcenter", "--port", "443"],
    ),
    (
        "zones",
        "across-gateway",
        &["--from", "office-linux", "--to", "ams", "--port", "9876"],
    ),
    (
        "zones",
        "gateway-drops",
        &[
            "--from",
            "vmware-va",
            "--to",
            "office-linux",
            "--port",
            "9876",
        ],
    ),
    (
        "zones",
        "address-in-network",
        &["--from", "198.51.100.70", "--to", "ams", "--port", "3389"],
    ),
    (
        "gateway-zones",
        "admin-network-through-gateway",
        &["--from", "10.99.0.7", "--to", "lx", "--port", "22"],
    ),
    (
        "gateway-zones",
        "admin-network-other-port",
        &["--from", "10.99.0.7", "--to", "lx", "--port", "80"],
    ),
];

#[test]
fn query_matches_the_references() {
    let mut produced = BTreeMap::new();
    for (topology, case, extra) in CASES {
        let site = fixture(&format!("topologies/{topology}.toml"));
        let mut args = vec!["query", site.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = abrfw(&args);
        let code = out.status.code().expect("exit status");
        assert!(
            code == 0 || code == 1,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        produced.insert(
            PathBuf::from(format!("{topology}/{case}.txt")),
            format!("exit {code}\n{}", String::from_utf8(out.stdout).unwrap()),
        );
        args.extend(["--format", "json"]);
        let out = abrfw(&args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: same exit status in JSON"
        );
        let json = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str::<serde_json::Value>(&json).expect("query --format json is JSON");
        produced.insert(PathBuf::from(format!("{topology}/{case}.json")), json);
    }
    check_golden(&fixture("query"), &produced);
}

#[test]
fn query_exit_codes_say_allowed_blocked_or_error() {
    let q = |extra: &[&str]| {
        let mut args = vec!["query", "--example"];
        args.extend_from_slice(extra);
        abrfw(&args)
    };
    let ok = q(&["--from", "ams", "--to", "win-agent", "--port", "445"]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("verdict: allowed end to end"));
    let blocked = q(&[
        "--from",
        "win-agent",
        "--to",
        "linux-agent",
        "--port",
        "9876",
    ]);
    assert_eq!(blocked.status.code(), Some(1));
    let out = String::from_utf8_lossy(&blocked.stdout);
    assert!(
        out.contains("verdict: blocked at win-agent outbound, linux-agent inbound"),
        "{out}"
    );
    for (args, message) in [
        (
            &["--from", "nsa", "--to", "ams", "--port", "1"][..],
            "did you mean \"nas\"?",
        ),
        (
            &[
                "--from", "xp-agent", "--to", "ams", "--port", "9876", "--family", "6",
            ],
            "xp-agent has no IPv6 address",
        ),
        (
            &[
                "--from",
                "192.0.2.40",
                "--to",
                "ams",
                "--port",
                "9876",
                "--family",
                "6",
            ],
            "192.0.2.40 is not an IPv6 address",
        ),
        (
            &["--from", "ams", "--to", "ams", "--port", "0"],
            "0 is not in 1..=65535",
        ),
    ] {
        let out = q(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let zones = fixture("topologies/zones.toml");
    let out = abrfw(&[
        "query",
        zones.to_str().unwrap(),
        "--from",
        "fw-linux",
        "--to",
        "ams",
        "--port",
        "22",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a [[gateway]]"));
}
