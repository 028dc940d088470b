//! `abrfw releases`, `abrfw diff` and `abrfw flows --diff`: golden outputs in
//! `fixtures/diff/expected/<case>`, one per command below (re-bless with ABRFW_BLESS=1; a
//! reference no case produces fails), exit codes like diff(1), located catalog-file errors in
//! `fixtures/invalid-catalog/<case>.toml` beside `<case>.stderr`.

use std::collections::BTreeSet;

use pretty_assertions::assert_eq;

use crate::support::{abrfw, check_or_bless, check_or_bless_hinted, fixture, root};

const EXAMPLE: &str = "fixtures/topologies/example.toml";
const EDITED: &str = "fixtures/diff/example-edited.toml";
const PAIRS: [(&str, &str); 3] = [
    ("abr-11.5", "aba-11.7"),
    ("aba-11.7", "ab-12.5"),
    ("abr-11.5", "ab-12.5"),
];

/// Every golden case: (file name under fixtures/diff/expected, arguments, expected exit code).
fn cases() -> Vec<(String, Vec<String>, i32)> {
    let mut cases = Vec::new();
    let owned = |args: &[&str]| args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    cases.push(("releases.txt".to_owned(), owned(&["releases"]), 0));
    cases.push((
        "releases.json".to_owned(),
        owned(&["releases", "--format", "json"]),
        0,
    ));
    for (a, b) in PAIRS {
        for (ext, format) in [("txt", "table"), ("json", "json"), ("md", "markdown")] {
            cases.push((
                format!("catalog-{a}--{b}.{ext}"),
                owned(&["flows", "--diff", a, b, "--format", format]),
                1,
            ));
        }
        for (ext, format) in [("txt", "text"), ("json", "json"), ("diff", "unified")] {
            let mut args = owned(&["diff", EXAMPLE, "--from", a, "--to", b, "--format", format]);
            if format == "unified" {
                args.extend(owned(&["--backend", "nftables"]));
            }
            cases.push((format!("example-{a}--{b}.{ext}"), args, 1));
        }
    }
    for (ext, format) in [("txt", "text"), ("json", "json"), ("diff", "unified")] {
        let mut args = owned(&["diff", EXAMPLE, EDITED, "--format", format]);
        if format == "unified" {
            args.extend(owned(&["--backend", "powershell"]));
        }
        cases.push((format!("edited-abr-11.5.{ext}"), args, 1));
    }
    // A site with [[gateway]] firewalls: their forward rules are diffed too.
    for (ext, format) in [("txt", "text"), ("json", "json"), ("diff", "unified")] {
        let mut args = owned(&[
            "diff",
            "fixtures/topologies/zones.toml",
            "--to",
            "ab-12.5",
            "--format",
            format,
        ]);
        if format == "unified" {
            args.extend(owned(&["--backend", "nftables"]));
        }
        cases.push((format!("zones-abr-11.5--ab-12.5.{ext}"), args, 1));
    }
    // The edited site across the release change: both kinds of difference at once.
    cases.push((
        "edited-abr-11.5--ab-12.5.txt".to_owned(),
        owned(&["diff", EXAMPLE, EDITED, "--to", "ab-12.5"]),
        1,
    ));
    cases
}

#[test]
fn diff_outputs_match_their_references() {
    let dir = fixture("diff/expected");
    let mut produced = BTreeSet::new();
    for (name, args, code) in cases() {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = abrfw(&argv);
        let stdout = String::from_utf8(run.stdout).unwrap();
        assert_eq!(
            run.status.code(),
            Some(code),
            "abrfw {argv:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(!stdout.contains('\x1b'), "{name}: colour on a pipe");
        let path = dir.join(&name);
        produced.insert(name.clone());
        check_or_bless_hinted(
            &path,
            &stdout,
            &format!("it is the output of abrfw {argv:?}; if intended, rerun with ABRFW_BLESS=1"),
        );
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            produced.contains(&name),
            "fixtures/diff/expected/{name} is produced by no case"
        );
    }
}

#[test]
fn diff_exits_0_when_equal_and_2_on_error() {
    for args in [
        vec!["diff", EXAMPLE],
        vec!["diff", EXAMPLE, EXAMPLE, "--format", "json"],
        vec!["diff", EXAMPLE, "--from", "ab-12.5", "--to", "ab-12.5"],
        vec![
            "diff",
            EXAMPLE,
            "--to",
            "abr-11.5",
            "--format",
            "unified",
            "--backend",
            "pf",
        ],
        vec!["flows", "--diff", "ab-12.5", "ab-12.5"],
    ] {
        let run = abrfw(&args);
        assert_eq!(run.status.code(), Some(0), "{args:?}");
    }
    for args in [
        vec!["diff", EXAMPLE, "--to", "abr-12"],
        vec!["diff", "no/such.toml", "--to", "ab-12.5"],
        vec!["diff", EXAMPLE, "--to", "ab-12.5", "--format", "unified"],
        vec![
            "diff",
            "fixtures/invalid/unknown-role.toml",
            "--to",
            "ab-12.5",
        ],
        vec!["flows", "--diff", "abr-11.5", "abr-9"],
    ] {
        let run = abrfw(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    let unknown = abrfw(&["diff", EXAMPLE, "--to", "abr-12"]);
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "error: unknown release \"abr-12\"; known: abr-11.5, aba-11.7, ab-12.5\n"
    );
}

#[test]
fn a_role_without_flows_in_a_release_is_reported_not_dropped() {
    let run = abrfw(&[
        "diff", EXAMPLE, "--from", "abr-11.5", "--to", "ab-12.5", "--format", "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["version"], 1);
    let ams = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "ams")
        .unwrap();
    assert_eq!(ams["idle_roles"]["from"], serde_json::json!([]));
    assert_eq!(
        ams["idle_roles"]["to"],
        serde_json::json!(["license-server"])
    );

    let check = abrfw(&["check", EXAMPLE, "--release", "ab-12.5"]);
    assert_eq!(check.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("note: host ams: role license-server has no flows in release ab-12.5"),
        "{stdout}"
    );
    let compile = abrfw(&["compile", EXAMPLE, "--release", "ab-12.5", "--host", "ams"]);
    assert_eq!(compile.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&compile.stderr)
            .contains("note: host ams: role license-server has no flows in release ab-12.5")
    );
    assert!(String::from_utf8_lossy(&compile.stdout).contains("7780"));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let args = ["diff", EXAMPLE, "--to", "ab-12.5"];
    let plain = abrfw(&args);
    assert!(!plain.stdout.contains(&0x1b));
    let always = abrfw(&[&args[..], &["--color", "always"]].concat());
    assert!(always.stdout.contains(&0x1b));
    let never = abrfw(&[&args[..], &["--color", "never"]].concat());
    assert_eq!(plain.stdout, never.stdout);
}

#[test]
fn a_user_catalog_compiles_and_diffs() {
    let catalog = "fixtures/catalogs/site-custom.toml";
    let releases = abrfw(&["releases", "--catalog", catalog]);
    assert_eq!(releases.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&releases.stdout).contains("site-custom"));
    // --catalog alone compiles under the catalog's release.
    let ir = abrfw(&[
        "compile",
        EXAMPLE,
        "--catalog",
        catalog,
        "--host",
        "ams",
        "--backend",
        "ir",
    ]);
    assert_eq!(
        ir.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ir.stderr)
    );
    let ir: serde_json::Value = serde_json::from_slice(&ir.stdout).unwrap();
    assert_eq!(ir["release"], "site-custom");
    let flows: BTreeSet<&str> = ir["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flow"].as_str().unwrap())
        .collect();
    assert!(
        flows.contains("agent-ms") && flows.contains("agent-syslog"),
        "{flows:?}"
    );
    // Every backend renders it.
    let out = tempfile::tempdir().unwrap();
    let written = abrfw(&[
        "compile",
        EXAMPLE,
        "--catalog",
        catalog,
        "--out-dir",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(written.status.code(), Some(0));
    let nft = std::fs::read_to_string(out.path().join("linux-agent/nftables.nft")).unwrap();
    assert!(nft.contains("agent-syslog") && nft.contains("site-custom"));
    let diff = abrfw(&[
        "diff",
        EXAMPLE,
        "--catalog",
        catalog,
        "--from",
        "abr-11.5",
        "--to",
        "site-custom",
    ]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("[agent-syslog]"));
}

#[test]
fn invalid_catalogs_get_located_errors() {
    let mut cases: Vec<_> = std::fs::read_dir(fixture("invalid-catalog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "found {} cases", cases.len());
    for case in cases {
        let rel = case
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let run = abrfw(&["releases", "--catalog", &rel]);
        let stderr = String::from_utf8(run.stderr).unwrap();
        assert_eq!(run.status.code(), Some(2), "{rel}: {stderr}");
        assert!(run.stdout.is_empty(), "{rel}");
        assert!(
            stderr.contains(" --> fixtures/invalid-catalog/"),
            "{rel}: {stderr}"
        );
        let expected_path = case.with_extension("stderr");
        check_or_bless(&expected_path, &stderr);
        let expected = stderr;
        // compile with the same catalog fails the same way and writes nothing.
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("out");
        let compile = abrfw(&[
            "compile",
            EXAMPLE,
            "--catalog",
            &rel,
            "--out-dir",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(compile.status.code(), Some(2));
        assert_eq!(String::from_utf8(compile.stderr).unwrap(), expected);
        assert!(!dir.exists(), "{rel}: output was written");
    }
}

#[test]
fn docs_releases_md_tables_are_generated() {
    let doc = std::fs::read_to_string(root().join("docs/releases.md")).unwrap();
    let begin = "<!-- BEGIN abrfw releases --format markdown -->\n";
    let end = "<!-- END abrfw releases --format markdown -->";
    let start = doc.find(begin).expect("begin marker") + begin.len();
    let stop = doc.find(end).expect("end marker");
    let generated = crate::support::stdout_ok(&["releases", "--format", "markdown"]);
    assert_eq!(
        &doc[start..stop],
        generated,
        "docs/releases.md is out of date: replace the text between its markers with \
         `cargo run --locked -- releases --format markdown`"
    );
}

/// On a terminal (a pty from util-linux `script`) the text is coloured, unless NO_COLOR is set.
#[test]
fn colour_on_a_terminal_unless_no_color() {
    if !crate::support::have("script") {
        eprintln!("SKIPPED: no `script` to run abrfw on a pty");
        return;
    }
    let command = format!(
        "{} diff {EXAMPLE} --to ab-12.5",
        env!("CARGO_BIN_EXE_abrfw")
    );
    let on_pty = |no_color: bool| {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &command, "/dev/null"])
            .current_dir(root())
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .env("TERM", "xterm");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        cmd.output().expect("run script").stdout
    };
    assert!(on_pty(false).contains(&0x1b), "no colour on a terminal");
    assert!(!on_pty(true).contains(&0x1b), "colour despite NO_COLOR");
}

#[test]
fn the_built_in_example_diffs_like_its_fixture_file() {
    let file = fixture("topologies/example.toml");
    let file = file.to_str().unwrap();
    for release in ["aba-11.7", "ab-12.5"] {
        let from_file = abrfw(&["diff", file, "--to", release, "--format", "json"]);
        let built_in = abrfw(&["diff", "--example", "--to", release, "--format", "json"]);
        assert_eq!(from_file.status.code(), Some(1));
        assert_eq!(built_in.status.code(), Some(1));
        // The same differences; only the site names in the header differ.
        let strip = |out: &[u8]| -> serde_json::Value {
            let mut v: serde_json::Value = serde_json::from_slice(out).unwrap();
            for side in ["from", "to"] {
                if let Some(site) = v.get_mut(side).and_then(|s| s.get_mut("site")) {
                    *site = serde_json::Value::Null;
                }
            }
            v
        };
        assert_eq!(
            strip(&from_file.stdout),
            strip(&built_in.stdout),
            "{release}"
        );
    }
    let same = abrfw(&["diff", "--example"]);
    assert_eq!(same.status.code(), Some(0));
}
