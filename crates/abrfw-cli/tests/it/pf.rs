//! pf: the syntax check (tests/it/pf/check.rs) against known-good and known-bad pf.conf texts
//! written from pf.conf(5), then against every pf.conf abrfw writes; hostile descriptions stay
//! inside comments and labels.

pub(crate) mod check;

use check::{Mode, check};

use crate::golden::{compile_to_tree, tree};
use crate::support::{fixture, stdout_ok, topologies};

/// Realistic pf.conf texts after the examples of pf.conf(5) (OpenBSD and FreeBSD).
const GOOD: &[(&str, &str)] = &[
    (
        "macros, tables of v4/v6/networks, lists, self, interfaces",
        r#"# main ruleset
ext_if = "em0"
int_if = "em1"
tcp_services = "{ 22, 113 }"
table <private> const { 10/8, 172.16/12, 192.168/16 }
table <mixed> persist { 192.0.2.1, 2001:db8::/32, !192.0.2.128/25, 198.51.100.0/24 }
table <spammers> persist file "/etc/spammers"
set block-policy return
set skip on lo
block all
pass in on $ext_if proto tcp from any to ($ext_if) port $tcp_services flags S/SA keep state
pass in quick on $int_if inet proto tcp from <private> port 1024:65535 to self port { 22 80 443 } keep state label "int-web"
pass out quick inet6 proto tcp from self to <mixed> port = 9876 flags S/SA modulate state
pass in quick proto udp from any to any port 33433 >< 33626 keep state
pass in proto tcp from ! <spammers> to any port != 25
block return in log quick on ! em1 proto tcp from any port < 1024 to any port <= 1023
block return-rst in quick proto tcp from any to any port 23
block return-icmp(port-unr, port-unr) in quick proto udp all
pass quick inet6 proto icmp6 all icmp6-type { neighbrsol, neighbradv, routersol, routeradv, 143 } no state
pass inet proto icmp all icmp-type echoreq code 0 keep state
pass in on { em0, em1 } proto { tcp, udp } from { 192.0.2.0/24, 2001:db8::1 } to any port domain
anchor "abrfw"
anchor "ftp-proxy/*"
load anchor "abrfw" from "/etc/pf.anchors/abrfw"
antispoof quick for { em0 em1 } inet
pass out on egress proto tcp from any port 2000 <> 2004 to any \
	keep state (max 100)
"#,
    ),
    (
        "an anchor body like abrfw's",
        r#"table <abrfw_peers001> const { 192.0.2.10, 2001:db8:0:10::10 }
table <abrfw_peers002> const {
	198.51.100.0/25,
	2001:db8:0:20::/64 }
pass in quick proto tcp from <abrfw_peers001> port 49152:65535 to self port 9876 flags S/SA keep state label "ms-agent"
pass out quick on em2 proto udp from self to <abrfw_peers002> port 53 keep state label 'dns: the site\'s resolver'
block drop in quick on ! lo0 all
block drop out quick on { em0, em1 } from ! <abrfw_peers002> to any
"#,
    ),
];

/// Each text is a small pf.conf with one mistake pfctl refuses, and the message it gives.
const BAD: &[(&str, &str, &str)] = &[
    (
        "unbalanced brace",
        "table <t> const { 192.0.2.1\npass all\n",
        "unbalanced",
    ),
    (
        "closing brace alone",
        "pass in proto tcp to any port 22 }\n",
        "unbalanced",
    ),
    (
        "port range with a dash",
        "pass in proto tcp from any to any port 1-2\n",
        "unknown port 1-2",
    ),
    (
        "port out of range",
        "pass in proto tcp to any port 65536\n",
        "illegal port value",
    ),
    (
        "table name too long",
        "table <abcdefghijklmnopqrstuvwxyz_123456> const { 10/8 }\n",
        "table name too long",
    ),
    (
        "table reference too long",
        "pass in from <abcdefghijklmnopqrstuvwxyz_123456> to any\n",
        "table name too long",
    ),
    (
        "label too long",
        "pass in all label \"0123456789012345678901234567890123456789012345678901234567890123\"\n",
        "rule label too long",
    ),
    (
        "unknown keyword",
        "pass in quik proto tcp all\n",
        "syntax error",
    ),
    ("unknown statement", "pas in all\n", "unknown statement"),
    (
        "port without proto",
        "pass in from any to any port 22\n",
        "port only applies to tcp/udp",
    ),
    (
        "port with icmp",
        "pass in proto icmp from any to any port 22\n",
        "port only applies to tcp/udp",
    ),
    (
        "undefined macro",
        "pass in on $ext_if all\n",
        "macro 'ext_if' not defined",
    ),
    (
        "unterminated quote",
        "pass in all label \"abc\n",
        "unterminated quoted string",
    ),
    (
        "keep state on block",
        "block in proto tcp all keep state\n",
        "keep state on block rules",
    ),
    (
        "flags on udp",
        "pass in proto udp all flags S/SA\n",
        "flags only apply to tcp",
    ),
    (
        "bad flags",
        "pass in proto tcp all flags S/XA\n",
        "bad flags",
    ),
    (
        "icmp-type without af",
        "pass proto icmp all icmp-type echoreq\n",
        "address family",
    ),
    (
        "icmp6 type name",
        "pass inet6 proto icmp6 all icmp6-type neighbour\n",
        "unknown icmp6-type",
    ),
    (
        "host bits in a table",
        "table <t> { 192.0.2.5/24 }\n",
        "host bits",
    ),
    (
        "bad address",
        "pass in from 192.0.2.300 to any\n",
        "no IP address",
    ),
    (
        "address range without spaces",
        "table <t> { 10.0.0.1-10.0.0.5 }\n",
        "no IP address",
    ),
    (
        "netmask too long",
        "pass in from 192.0.2.0/33 to any\n",
        "invalid netmask",
    ),
    (
        "label redefined",
        "pass all label \"a\" label \"b\"\n",
        "label cannot be redefined",
    ),
    (
        "state twice",
        "pass proto tcp all keep state modulate state\n",
        "cannot be redefined",
    ),
    (
        "whitespace after backslash",
        "pass in \\ \nall\n",
        "whitespace after",
    ),
    (
        "unknown protocol",
        "pass proto tcpp all\n",
        "unknown protocol",
    ),
    (
        "interface name too long",
        "pass on averyveryverylongif0 all\n",
        "invalid interface",
    ),
    (
        "options after filter rules",
        "pass all\nset block-policy drop\n",
        "Rules must be in order",
    ),
    (
        "table defined twice",
        "table <t> { 10/8 }\ntable <t> { 10/8 }\n",
        "defined twice",
    ),
    (
        "port op with range",
        "pass proto tcp to any port > 1:2\n",
        "':' cannot be used",
    ),
    (
        "empty port range",
        "pass proto tcp to any port 2:1\n",
        "is empty",
    ),
    ("reserved anchor name", "anchor \"_x\"\n", "reserved"),
];

#[test]
fn known_good_pf_conf_texts_pass() {
    for (what, text) in GOOD {
        match check(text, Mode::Main) {
            Ok(report) => assert!(report.rules > 0, "{what}: no rule parsed"),
            Err(errors) => panic!("{what}: {errors:?}"),
        }
    }
}

#[test]
fn known_bad_pf_conf_texts_fail_with_pfctls_reason() {
    for (what, text, reason) in BAD {
        match check(text, Mode::Main) {
            Ok(_) => panic!("{what}: accepted:\n{text}"),
            Err(errors) => assert!(
                errors.iter().any(|e| e.message.contains(reason)),
                "{what}: expected {reason:?}, got {errors:?}"
            ),
        }
    }
}

#[test]
fn a_comment_ending_in_a_backslash_swallows_the_next_line() {
    // lgetc joins lines before yylex sees the comment: the rule below is part of the comment.
    let report = check("# a comment \\\npass in all\n", Mode::Main).expect("valid");
    assert_eq!(report.rules, 0);
    assert_eq!(
        check("# a comment\npass in all\n", Mode::Main)
            .unwrap()
            .rules,
        1
    );
}

#[test]
fn the_checker_warns_about_what_pf_accepts_but_abrfw_must_not_emit() {
    let report = check(
        "pass in from <nowhere> to any label \"$srcaddr\"\n",
        Mode::Main,
    )
    .expect("valid pf");
    let text: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        text.iter().any(|w| w.contains("not defined here")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|w| w.contains("expands $srcaddr")),
        "{text:?}"
    );
    // In an anchor, options are refused.
    assert!(check("set skip on lo0\n", Mode::Anchor).is_err());
}

pub(crate) fn assert_clean_anchor(name: &str, text: &str) {
    match check(text, Mode::Anchor) {
        Ok(report) => {
            assert!(report.rules > 0, "{name}: no rule parsed\n{text}");
            assert!(
                report.warnings.is_empty(),
                "{name}: {:?}\n{text}",
                report.warnings
            );
        }
        Err(errors) => panic!("{name}: pf syntax errors {errors:?}\n{text}"),
    }
}

#[test]
fn every_generated_pf_conf_passes_the_check() {
    let mut seen = 0;
    for (name, path) in topologies() {
        for (rel, text) in compile_to_tree(&path) {
            if rel.ends_with("pf.conf") {
                assert_clean_anchor(&format!("{name}/{}", rel.display()), &text);
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "only {seen} pf.conf files generated");
}

#[test]
fn every_committed_pf_conf_reference_passes_the_check() {
    for (name, _) in topologies() {
        for (rel, text) in tree(&fixture("expected").join(&name)) {
            if rel.ends_with("pf.conf") {
                assert_clean_anchor(&format!("{name}/{}", rel.display()), &text);
            }
        }
    }
}

#[test]
fn a_hostile_description_stays_inside_comments_and_labels() {
    let text = stdout_ok(&["compile", "fixtures/topologies/pf.toml", "--host", "nas"]);
    assert_clean_anchor("pf/nas", &text);
    let rule = text
        .lines()
        .find(|l| l.contains("allow:nas-admin") && l.starts_with("pass"))
        .expect("the site rule");
    assert!(rule.ends_with("label \"allow:nas-admin\""), "{rule}");
    let comment = text
        .lines()
        .find(|l| l.starts_with("# allow:nas-admin"))
        .expect("its comment");
    // `"` cannot end the comment's neighbours' strings, `\` cannot join the next line.
    assert!(
        !comment.contains('"') && !comment.contains('\\'),
        "{comment}"
    );
    assert!(
        comment.contains("$srcaddr") && comment.contains("{the}"),
        "{comment}"
    );
    // Every line of the file is a comment, blank, or a statement the checker parsed.
    // Three pass rules for the flows and two for ICMPv6 (received, sent).
    assert_eq!(
        text.lines().filter(|l| l.starts_with("pass")).count(),
        5,
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("pass in quick inet6 proto icmp6")
                || l.starts_with("pass out quick inet6 proto icmp6"))
            .count(),
        2,
        "{text}"
    );
}

#[test]
fn pf_serves_the_bsds_and_macos_only() {
    let out = crate::support::abrfw(&[
        "compile",
        "fixtures/topologies/pf.toml",
        "--host",
        "ams",
        "--backend",
        "pf",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("freebsd, openbsd, macos"), "{err}");
}
