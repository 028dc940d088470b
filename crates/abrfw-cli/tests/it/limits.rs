//! Resource limits: input too large to compile in bounded time and memory is refused with a
//! clear, located error (exit 2, nothing written), and large input within the limits compiles.
//! The limits are documented in docs/security.md.

use std::fmt::Write as _;

use abrfw_core::MAX_PEER_ENTRIES;
use abrfw_core::topology::{MAX_ALLOWS, MAX_FILE_BYTES, MAX_HOSTS};

use crate::support::abrfw;

/// Runs `abrfw compile SITE --out-dir` on `text`; returns (exit code, stderr, whether anything
/// was written). No test here asserts a time (the project measures time with `just bench`):
/// they assert that the limits refuse, or that the work completes.
fn compile(text: &str) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("out");
    let run = abrfw(&[
        "compile",
        path.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8(run.stderr).unwrap();
    (run.status.code(), stderr, out.exists())
}

fn refused(text: &str, message: &str) -> String {
    let (code, stderr, wrote) = compile(text);
    assert_eq!(code, Some(2), "{}", &stderr[..stderr.len().min(2000)]);
    assert!(!wrote, "output was written");
    assert!(
        stderr.contains(message),
        "expected {message:?} in:\n{}",
        &stderr[..stderr.len().min(2000)]
    );
    stderr
}

fn host(t: &mut String, name: &str, os: &str, address: &str, role: &str) {
    let _ = write!(
        t,
        "[[host]]\nname = \"{name}\"\nos = \"{os}\"\naddresses = [\"{address}\"]\nroles = [\"{role}\"]\n"
    );
}

#[test]
fn an_oversized_file_is_refused_without_being_parsed() {
    let mut text = String::from("# padding\n");
    while text.len() <= MAX_FILE_BYTES {
        text.push_str(&"#".repeat(1023));
        text.push('\n');
    }
    let stderr = refused(
        &text,
        "is larger than 33554432 bytes (32 MiB), the most abrfw reads",
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn deep_nesting_is_refused_with_a_location() {
    for text in [
        format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        format!("x = {}1{}\n", "{a=".repeat(100_000), "}".repeat(100_000)),
        format!("a{} = 1\n", ".a".repeat(100_000)),
        format!("[a{}]\n", ".a".repeat(100_000)),
    ] {
        let stderr = refused(&text, " --> ");
        assert!(stderr.contains("recurs"), "{stderr}");
    }
}

#[test]
fn too_many_hosts_or_allows_are_refused_at_the_first_one_over() {
    let mut text = String::new();
    for i in 0..=MAX_HOSTS {
        host(
            &mut text,
            &format!("h{i}"),
            "linux",
            &format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            "agent",
        );
    }
    let stderr = refused(
        &text,
        &format!(
            "too many [[host]] tables: {}, the limit is {MAX_HOSTS}",
            MAX_HOSTS + 1
        ),
    );
    assert!(
        stderr.contains(&format!("name = \"h{MAX_HOSTS}\"")),
        "{stderr}"
    );

    let mut text = String::from("allow = [");
    for i in 0..=MAX_ALLOWS {
        let _ = write!(text, "{{name=\"r{i}\",from=\"a\",to=\"10.9.0.1\",port=1}},");
    }
    text.push_str("]\n");
    host(&mut text, "a", "linux", "10.0.0.1", "agent");
    refused(
        &text,
        &format!(
            "too many [[allow]] tables: {}, the limit is {MAX_ALLOWS}",
            MAX_ALLOWS + 1
        ),
    );
}

#[test]
fn a_site_whose_rules_grow_quadratically_is_refused() {
    // 4,500 consoles and 4,500 agents: every agent's rules would name every console and back
    // (over 30 million peer entries).
    let mut text = String::new();
    for i in 0..4500 {
        host(
            &mut text,
            &format!("c{i}"),
            "linux",
            &format!("10.{}.{}.1", i >> 7, (i & 127) * 2),
            "management-console",
        );
        host(
            &mut text,
            &format!("a{i}"),
            "linux",
            &format!("11.{}.{}.1", i >> 7, (i & 127) * 2),
            "agent",
        );
    }
    let (code, stderr, wrote) = compile(&text);
    assert_eq!(code, Some(2));
    assert!(!wrote);
    assert!(
        stderr.contains("error: the site would compile to about")
            && stderr.contains(&format!("more than the limit of {MAX_PEER_ENTRIES}")),
        "{}",
        &stderr[stderr.len().saturating_sub(2000)..]
    );
}

#[test]
fn large_networks_on_thousands_of_hosts_compile() {
    // 2,000 agent hosts that each stand for a million addresses (a distinct IPv4 /12 and IPv6
    // /32; one address or network belongs to one host) and one management server: big
    // networks are one peer entry each, so this is small work.
    let mut text = String::from("[options]\npolicy = \"fragment\"\n");
    host(
        &mut text,
        "ams",
        "windows",
        "192.0.2.10",
        "management-server",
    );
    for i in 0..2000 {
        let _ = write!(
            text,
            "[[host]]\nname = \"a{i}\"\nos = \"linux\"\naddresses = [\"{}.{}.0.0/12\", \"fd00:{:x}::/32\"]\nroles = [\"agent\"]\n",
            1 + (i >> 4),
            (i & 15) << 4,
            i
        );
    }
    let (code, stderr, wrote) = compile(&text);
    assert_eq!(code, Some(0), "{}", &stderr[..stderr.len().min(2000)]);
    assert!(
        !stderr.contains("warning"),
        "{}",
        &stderr[..stderr.len().min(2000)]
    );
    assert!(wrote);
}

#[test]
fn twenty_thousand_warnings_are_each_reported_at_their_line() {
    // Every host of a 20,000-host "drop" site without admin rules gets a lockout warning. Each
    // report used to scan the whole file for its line (quadratic: about a minute in a release
    // build); now it renders only the lines it points at (about 2 s in a debug build).
    let mut text = String::new();
    for i in 0..20_000 {
        host(
            &mut text,
            &format!("h{i}"),
            "linux",
            &format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            "agent",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(&path, &text).unwrap();
    let run = abrfw(&["check", path.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8(run.stderr).unwrap();
    // Each host gets its lockout warning (and its DNS warning: the site allows no DNS).
    assert_eq!(
        stderr.matches("may lock out its administrators").count(),
        20_000
    );
    assert_eq!(stderr.matches("cannot resolve names").count(), 20_000);
    assert!(
        stderr.contains(&format!(
            "     --> {}:99997:8\n      |\n99997 | name = \"h19999\"",
            path.display()
        )),
        "{}",
        &stderr[stderr.len() - 600..]
    );
}
