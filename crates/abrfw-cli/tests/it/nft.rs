//! Every generated nftables file passes the real `nft -c -f` in a fresh network namespace, and
//! loading it twice replaces the table instead of merging into it.

use std::process::Command;

use crate::golden::compile_to_tree;
use crate::support::{system_tests_possible, topologies};

/// Runs `nft ARGS` with `input` on stdin inside a throwaway user+network namespace.
fn nft_in_fresh_ns(script: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("unshare")
        .args(["-Urn", "sh", "-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("unshare");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    let _ = std::io::stdout().flush();
    out
}

#[test]
fn every_generated_nftables_file_passes_nft_check() {
    if !system_tests_possible(&["nft", "unshare"], false) {
        return;
    }
    for (name, path) in topologies() {
        for (rel, text) in compile_to_tree(&path) {
            if !rel.ends_with("nftables.nft") {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("rules.nft");
            let script = if text.contains("\ntable inet abrfw {") {
                std::fs::write(&file, &text).unwrap();
                format!("nft -c -f {}", file.display())
            } else {
                // A fragment is included inside the site's own table.
                let frag = dir.path().join("abrfw.nft");
                std::fs::write(&frag, &text).unwrap();
                std::fs::write(
                    &file,
                    format!(
                        "table inet filter {{\n\tinclude \"{}\"\n\tchain input {{ type filter hook input priority filter; policy drop; jump abrfw_in; }}\n\tchain output {{ type filter hook output priority filter; policy drop; jump abrfw_out; }}\n}}\n",
                        frag.display()
                    ),
                )
                .unwrap();
                format!("nft -c -f {}", file.display())
            };
            let out = nft_in_fresh_ns(&script);
            assert!(
                out.status.success(),
                "{name}/{}: nft -c -f failed:\n{}",
                rel.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn reloading_replaces_the_table_and_keeps_other_tables() {
    if !system_tests_possible(&["nft", "unshare"], false) {
        return;
    }
    let files = compile_to_tree(&crate::support::fixture("topologies/example.toml"));
    let text = &files[std::path::Path::new("linux-agent/nftables.nft")];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.nft");
    std::fs::write(&file, text).unwrap();
    // A stale abrfw table with an extra set element, and another tool's table.
    let stale = "table inet abrfw {\n\tset abrfw_peers002_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.99.0.0/16 }\n\t}\n}\ntable ip other {\n\tchain c {\n\t\ttype filter hook input priority 10; policy accept;\n\t}\n}\n";
    let stale_file = dir.path().join("stale.nft");
    std::fs::write(&stale_file, stale).unwrap();
    let script = format!(
        "nft -f {s} && nft -f {f} && nft -f {f} && nft list ruleset",
        s = stale_file.display(),
        f = file.display()
    );
    let out = nft_in_fresh_ns(&script);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !listing.contains("10.99.0.0/16"),
        "stale set element survived:\n{listing}"
    );
    assert!(
        listing.contains("table ip other"),
        "another tool's table was touched:\n{listing}"
    );
    assert_eq!(listing.matches("table inet abrfw").count(), 1);
}
