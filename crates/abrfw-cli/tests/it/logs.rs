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

/// The lab's site: a management server and a Linux agent; only the agent loads rules.
const LAB_SITE: &str = r#"
[options]
phases = ["operate"]
policy = "drop"
log = "drops"

[[host]]
name = "lg-ams"
os = "windows"
addresses = ["100.64.22.10"]
roles = ["management-server"]

[[host]]
name = "lg-agent"
os = "linux"
addresses = ["100.64.22.40"]
roles = ["agent"]
"#;

/// End to end: the agent's nftables rule set with `log = "drops"` runs in a namespace, the
/// "management server" namespace (plus an address of no host) sends what the rules must drop,
/// the kernel logs it (`net.netfilter.nf_log_all_netns=1` lets a namespace log), and `abrfw
/// logs` reads the lines back from `dmesg` and names each cause. The lab's addresses
/// (100.64.22.0/24) are used by no other test, and only lines after this run's marker count.
#[test]
fn kernel_drop_lines_from_the_namespace_lab_are_attributed() {
    use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
    use std::time::Duration;

    use socket2::{Domain, Protocol, SockAddr, Socket, Type};

    use crate::ns::{Namespaces, in_ns, sh, with_ns};
    use crate::support::system_tests_possible;

    if !system_tests_possible(&["nft", "ip", "dmesg", "sysctl"], true) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site.toml");
    std::fs::write(&site, LAB_SITE).unwrap();
    let site = site.to_str().unwrap();
    let rules = work.path().join("lg-agent.nft");
    let out = abrfw(&[
        "compile",
        site,
        "--host",
        "lg-agent",
        "--backend",
        "nftables",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&rules, &out.stdout).unwrap();

    sh(&["sysctl", "-q", "-w", "net.netfilter.nf_log_all_netns=1"]);
    let _guard = Namespaces(vec!["lg-ams".to_owned(), "lg-agent".to_owned()]);
    for ns in ["lg-ams", "lg-agent"] {
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", ns])
            .stderr(std::process::Stdio::null())
            .status();
        sh(&["ip", "netns", "add", ns]);
        in_ns(ns, &["ip", "link", "set", "lo", "up"]);
    }
    sh(&[
        "ip", "link", "add", "lg0", "netns", "lg-ams", "type", "veth", "peer", "lg1", "netns",
        "lg-agent",
    ]);
    in_ns(
        "lg-ams",
        &["ip", "addr", "add", "100.64.22.10/24", "dev", "lg0"],
    );
    in_ns(
        "lg-ams",
        &["ip", "addr", "add", "100.64.22.99/24", "dev", "lg0"],
    );
    in_ns(
        "lg-agent",
        &["ip", "addr", "add", "100.64.22.40/24", "dev", "lg1"],
    );
    in_ns("lg-ams", &["ip", "link", "set", "lg0", "up"]);
    in_ns("lg-agent", &["ip", "link", "set", "lg1", "up"]);
    in_ns("lg-agent", &["nft", "-f", rules.to_str().unwrap()]);

    let marker = format!("abrfw-logs-test-{}", std::process::id());
    std::fs::write("/dev/kmsg", format!("{marker}\n")).expect("write /dev/kmsg");

    let agent: IpAddr = "100.64.22.40".parse().unwrap();
    let listener = with_ns("lg-agent", || {
        TcpListener::bind(SocketAddr::new(agent, 9876)).expect("listen 9876")
    });
    let tcp = |src: &str, sport: u16, dport: u16| -> bool {
        let src: IpAddr = src.parse().unwrap();
        with_ns("lg-ams", || {
            let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
            s.set_reuse_address(true).unwrap();
            s.bind(&SockAddr::from(SocketAddr::new(src, sport)))
                .unwrap();
            // Shorter than the first SYN retransmission (1 s): one packet, one log line.
            s.connect_timeout(
                &SockAddr::from(SocketAddr::new(agent, dport)),
                Duration::from_millis(400),
            )
            .is_ok()
        })
    };
    // The documented flow passes (and logs nothing).
    assert!(tcp("100.64.22.10", 50000, 9876), "ms-agent must pass");
    // Five drops: the log rule's burst.
    assert!(!tcp("100.64.22.10", 3000, 9876), "wrong source port");
    assert!(
        !tcp("100.64.22.10", 50001, 22),
        "remote install is phase install"
    );
    assert!(!tcp("100.64.22.10", 50002, 8080), "undocumented");
    assert!(!tcp("100.64.22.99", 50003, 9876), "peer unknown");
    with_ns("lg-ams", || {
        let u = UdpSocket::bind("100.64.22.10:50004").unwrap();
        u.send_to(b"probe", SocketAddr::new(agent, 9999)).unwrap();
    });
    drop(listener);
    std::thread::sleep(Duration::from_millis(300));

    let dmesg = std::process::Command::new("dmesg").output().expect("dmesg");
    let dmesg = String::from_utf8_lossy(&dmesg.stdout);
    let after = dmesg.rsplit_once(&marker).expect("the marker in dmesg").1;
    let lines: String = after
        .lines()
        .filter(|l| l.contains("abrfw-drop") && l.contains("SRC=100.64.22."))
        .map(|l| format!("{l}\n"))
        .collect();
    let log = work.path().join("dmesg.txt");
    std::fs::write(&log, &lines).unwrap();
    let out = abrfw(&["logs", site, log.to_str().unwrap(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cause = |sport: u64| -> String {
        let groups = report["groups"].as_array().unwrap();
        let g = groups
            .iter()
            .find(|g| g["source_ports"]["first"] == sport)
            .unwrap_or_else(|| panic!("no drop from source port {sport} in:\n{lines}"));
        assert_eq!(g["attribution"]["at"]["kind"], "inbound", "{g}");
        assert_eq!(g["attribution"]["at"]["host"], "lg-agent", "{g}");
        let c = &g["attribution"]["causes"][0];
        format!(
            "{} {}",
            c["reason"].as_str().unwrap_or(""),
            c["flow"].as_str().unwrap_or("")
        )
    };
    assert_eq!(cause(3000), "wrong-source-port ms-agent", "{lines}");
    assert_eq!(cause(50001), "flow-not-applied ri-ms-linux-ssh", "{lines}");
    assert_eq!(cause(50002), "undocumented ", "{lines}");
    assert_eq!(cause(50003), "peer-unknown ", "{lines}");
    assert_eq!(cause(50004), "undocumented ", "{lines}");
    assert_eq!(report["drops"], 5, "{lines}");
    assert!(
        !lines.contains("SPT=50000 "),
        "the allowed connection was logged:\n{lines}"
    );
}
