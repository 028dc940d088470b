//! The lockout guard: under `policy = "drop"` a host with an OS and no `[[allow]]` to its
//! administrative port (SSH 22; RDP 3389, WinRM 5985-5986 on Windows) gets a located warning on
//! stderr and exit 0; `--strict` makes the warnings errors (exit 2, nothing written).
//! `fixtures/warnings/<topology>.stderr` records the warnings of every fixture topology.

use pretty_assertions::assert_eq;

use crate::support::{abrfw, check_or_bless, fixture, topologies};

fn site(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("site.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

const LINUX: &str = "[[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.1\"]\nroles = [\"agent\"]\n\n\
    [[host]]\nname = \"win\"\nos = \"windows\"\naddresses = [\"10.0.0.2\"]\nroles = [\"agent\"]\n\n\
    [[host]]\nname = \"peer\"\naddresses = [\"10.0.0.3\"]\nroles = [\"online-storage\"]\n\n\
    [[allow]]\nname = \"dns\"\nfrom = \"all\"\nto = [\"10.0.0.53\", \"fd00::53\"]\nservice = \"dns\"\n\n\
    [[allow]]\nname = \"ad\"\nfrom = \"win\"\nto = \"10.0.0.53\"\nservice = \"ad\"\n";

#[test]
fn fixture_sites_get_exactly_the_recorded_lockout_warnings() {
    for (name, _) in topologies() {
        let rel = format!("fixtures/topologies/{name}.toml");
        let run = abrfw(&["check", &rel]);
        assert_eq!(run.status.code(), Some(0), "{rel}");
        let stderr = String::from_utf8(run.stderr).unwrap();
        let expected_path = fixture("warnings").join(format!("{name}.stderr"));
        check_or_bless(&expected_path, &stderr);
        let expected = stderr;
        // compile reports the same warnings and still writes everything.
        let out = tempfile::tempdir().unwrap();
        let run = abrfw(&["compile", &rel, "--out-dir", out.path().to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(0), "{rel}");
        assert_eq!(String::from_utf8(run.stderr).unwrap(), expected, "{rel}");
    }
}

#[test]
fn strict_turns_lockout_warnings_into_errors_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = site(dir.path(), LINUX);
    let warned = abrfw(&["check", &path]);
    assert_eq!(warned.status.code(), Some(0));
    let warnings = String::from_utf8(warned.stderr).unwrap();
    // The two hosts with an OS, each at its name, with a hint; the peer gets no rules to lose.
    assert_eq!(warnings.matches("warning: host ").count(), 2, "{warnings}");
    assert!(warnings.contains(&format!("warning: host \"lx\" may lock out its administrators: policy \"drop\" and no [[allow]] rule for SSH (tcp 22)\n --> {path}:2:8")), "{warnings}");
    assert!(
        warnings.contains(
            "no [[allow]] rule for RDP (tcp 3389), WinRM (tcp 5985), WinRM over HTTPS (tcp 5986)"
        ),
        "{warnings}"
    );
    assert!(
        warnings.contains("= help: add [[allow]] name = \"lx-admin\""),
        "{warnings}"
    );
    assert!(!warnings.contains("\"peer\""), "{warnings}");

    let strict = abrfw(&["check", "--strict", &path]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(strict.stdout.is_empty());
    assert_eq!(
        String::from_utf8(strict.stderr).unwrap(),
        warnings.replace("warning: host", "error: host")
    );

    let out = dir.path().join("out");
    let strict = abrfw(&[
        "compile",
        "--strict",
        &path,
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(!out.exists(), "--strict compile wrote output");
}

#[test]
fn an_admin_allow_or_a_fragment_silences_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let admin = format!(
        "{LINUX}\n[[allow]]\nname = \"ssh\"\nfrom = \"10.9.0.0/24\"\nto = \"lx\"\nport = \"20-25\"\n\n\
         [[allow]]\nname = \"winrm\"\nfrom = \"10.9.0.0/24\"\nto = \"win\"\nport = 5986\n"
    );
    let run = abrfw(&["check", "--strict", &site(dir.path(), &admin)]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stderr.is_empty());

    let fragment = format!("[options]\npolicy = \"fragment\"\n\n{LINUX}");
    let run = abrfw(&["check", "--strict", &site(dir.path(), &fragment)]);
    assert_eq!(run.status.code(), Some(0));
    assert!(run.stderr.is_empty());

    // UDP 22, an outbound-only rule or a different port do not count.
    let wrong = format!(
        "{LINUX}\n[[allow]]\nname = \"udp\"\nfrom = \"10.9.0.0/24\"\nto = \"lx\"\nport = 22\nprotocol = \"udp\"\n\n\
         [[allow]]\nname = \"out\"\nfrom = \"lx\"\nto = \"10.9.0.1\"\nport = 22\n\n\
         [[allow]]\nname = \"web\"\nfrom = \"10.9.0.0/24\"\nto = \"win\"\nport = 443\n"
    );
    let run = abrfw(&["check", &site(dir.path(), &wrong)]);
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert_eq!(stderr.matches("warning: host ").count(), 2, "{stderr}");
}

#[test]
fn an_allow_that_compiles_to_no_rule_does_not_count_and_is_itself_warned() {
    let dir = tempfile::tempdir().unwrap();
    // An IPv6-only `from` for IPv4-only hosts: no rule on either host, so no SSH or RDP rule
    // under policy drop. This passed `check --strict` before.
    let v6 = format!(
        "{LINUX}\n[[allow]]\nname = \"ssh\"\nfrom = \"2001:db8::/64\"\nto = \"lx\"\nport = 22\n\n\
         [[allow]]\nname = \"rdp\"\nfrom = \"10.9.0.0/24\"\nto = \"win\"\nport = 3389\n"
    );
    let path = site(dir.path(), &v6);
    let run = abrfw(&["check", &path]);
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains("warning: host \"lx\" may lock out its administrators: policy \"drop\" and no [[allow]] rule for SSH (tcp 22)\n"), "{stderr}");
    assert!(stderr.contains(&format!("warning: [[allow]] \"ssh\" compiles to no rule: its ends share no address family (IPv4 on one side, IPv6 on the other)\n  --> {path}:")), "{stderr}");
    assert!(!stderr.contains("\"win\" may lock out"), "{stderr}");
    let strict = abrfw(&["check", "--strict", &path]);
    assert_eq!(strict.status.code(), Some(2));

    // A dual-stack host with an IPv4-only admin rule is locked out over IPv6.
    let dual = "[[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.1\", \"fd00::1\"]\nroles = [\"agent\"]\n\n\
        [[allow]]\nname = \"ssh\"\nfrom = \"10.9.0.0/24\"\nto = \"lx\"\nport = 22\n";
    let run = abrfw(&["check", &site(dir.path(), dual)]);
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.contains("no [[allow]] rule for SSH (tcp 22) over IPv6\n"),
        "{stderr}"
    );
}

#[test]
fn addresses_that_cover_the_internet_warn_and_fail_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[allow]]\nname = \"ssh\"\nfrom = \"::/0\"\nto = \"lx\"\nport = 22\n\n\
         [[allow]]\nname = \"rdp\"\nfrom = \"10.9.0.0/24\"\nto = \"win\"\nport = 3389\n",
        LINUX
            .replace("[\"10.0.0.3\"]", "[\"0.0.0.0/0\"]")
            .replace("[\"10.0.0.1\"]", "[\"10.0.0.1\", \"fd00::1\"]")
    );
    let path = site(dir.path(), &text);
    let run = abrfw(&["check", &path]);
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains("warning: peer address \"0.0.0.0/0\" covers the Internet: the rules it takes part in are open to the world\n  --> "), "{stderr}");
    assert!(
        stderr.contains("warning: [[allow]] `from` \"::/0\" covers the Internet"),
        "{stderr}"
    );
    let strict = abrfw(&["check", "--strict", &path]);
    assert_eq!(strict.status.code(), Some(2));
    let stderr = String::from_utf8(strict.stderr).unwrap();
    assert!(
        stderr.contains("error: peer address \"0.0.0.0/0\" covers the Internet"),
        "{stderr}"
    );
}

/// Outbound drop without DNS (every host with an OS) or without Active Directory (Windows):
/// a located warning each, errors under `--strict`; a `service` or a `port` rule that opens
/// the port silences it, TCP 53 alone or an inbound rule does not, and so does a fragment.
#[test]
fn outbound_drop_without_dns_or_ad_warns_and_fails_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = "[[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.1\"]\nroles = [\"agent\"]\n\n\
        [[host]]\nname = \"win\"\nos = \"windows\"\naddresses = [\"10.0.0.2\"]\nroles = [\"agent\"]\n\n\
        [[allow]]\nname = \"admin\"\nfrom = \"10.9.0.0/24\"\nto = [\"lx\", \"win\"]\nservice = [\"ssh\", \"rdp\"]\n";
    let path = site(dir.path(), hosts);
    let run = abrfw(&["check", &path]);
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains(&format!("warning: host \"lx\" cannot resolve names: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach DNS (udp 53)\n --> {path}:2:8")), "{stderr}");
    assert!(stderr.contains(&format!("warning: host \"win\" cannot resolve names: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach DNS (udp 53)\n --> {path}:8:8")), "{stderr}");
    assert!(stderr.contains(&format!("warning: Windows host \"win\" cannot reach Active Directory: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach Kerberos (88)\n --> {path}:8:8")), "{stderr}");
    assert!(stderr.contains("service = \"dns\""), "{stderr}");
    assert!(stderr.contains("service = \"ad\""), "{stderr}");
    assert_eq!(stderr.matches("warning: ").count(), 3, "{stderr}");
    let strict = abrfw(&["check", "--strict", &path]);
    assert_eq!(strict.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(strict.stderr).unwrap(),
        stderr.replace("warning: ", "error: ")
    );

    // TCP 53 only, or DNS and Kerberos inbound, do not count.
    let wrong = format!(
        "{hosts}\n[[allow]]\nname = \"tcp53\"\nfrom = \"lx\"\nto = \"10.0.0.53\"\nport = 53\n\n\
         [[allow]]\nname = \"inbound\"\nfrom = \"10.0.0.53\"\nto = \"win\"\nservice = [\"dns\", \"ad\"]\n"
    );
    let run = abrfw(&["check", &site(dir.path(), &wrong)]);
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert_eq!(stderr.matches("warning: ").count(), 3, "{stderr}");

    // The services, or a plain UDP 53 rule and a Kerberos port, silence them.
    for fix in [
        "[[allow]]\nname = \"dns\"\nfrom = \"all\"\nto = \"10.0.0.53\"\nservice = \"dns\"\n\n\
         [[allow]]\nname = \"ad\"\nfrom = \"win\"\nto = \"10.0.0.53\"\nservice = \"ad\"\n",
        "[[allow]]\nname = \"dns\"\nfrom = [\"lx\", \"win\"]\nto = \"10.0.0.53\"\nport = 53\nprotocol = \"udp\"\n\n\
         [[allow]]\nname = \"krb\"\nfrom = \"win\"\nto = \"10.0.0.53\"\nport = 88\n",
    ] {
        let run = abrfw(&[
            "check",
            "--strict",
            &site(dir.path(), &format!("{hosts}\n{fix}")),
        ]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(run.stderr.is_empty());
    }
    let fragment = format!("[options]\npolicy = \"fragment\"\n\n{hosts}");
    let run = abrfw(&["check", "--strict", &site(dir.path(), &fragment)]);
    assert_eq!(run.status.code(), Some(0));
}
