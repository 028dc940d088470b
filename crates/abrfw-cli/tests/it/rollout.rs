//! `apply.sh` for real, per Linux backend, in two network namespaces joined by a veth link: the
//! host (the NAS of a site with long peer lists, so iptables needs ipsets) and the world (an
//! agent of the site and a stranger). Before anything, the host carries rules of its own (a
//! foreign table or chain rule, a foreign ipset) and, for the exactness check, whatever the
//! backend had loaded earlier.
//!
//! - An apply that is not confirmed restores the exact previous state: `nft list ruleset`
//!   byte-equal; `iptables-save` and `ip6tables-save` equal once their `#` comment lines (which
//!   carry a timestamp) are dropped and chain counters `[packets:bytes]` zeroed, and `ipset save`
//!   equal as a sorted list of lines (a set lists its members in hash order) without the
//!   `initval` hash seed (random for each newly created set: it differs after a reboot). The stranger
//!   connects before, is refused while the rules are loaded, and connects again after.
//! - A confirmed apply stays (the timer is gone and the rules are loaded).
//! - An invalid file is refused with exit 2 and the old rules untouched; a second apply while one
//!   waits for confirmation is refused, and so is one while another holds the lock.
//! - `persist` installs a systemd unit; a simulated reboot (everything flushed, ipsets destroyed,
//!   then the unit's ExecStart run) brings back the confirmed rules and their ipsets.
//! - `rollback` after a confirm restores the state before the apply.
//!
//! The waits below are for the rollback timer to finish (a status file it writes), bounded only
//! against a hang; no assertion depends on how long anything took.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::ns::{Namespaces, in_ns, sh, with_ns};
use crate::support::{stdout_ok, system_tests_possible};

const HOST_V4: &str = "192.0.2.5";
const AGENT_V4: &str = "192.0.2.20";
const STRANGER_V4: &str = "192.0.2.99";

/// The many-peers site of tests/it/iptables.rs: the NAS's inbound peer lists are long enough
/// for ipsets in both families.
fn site(agents: usize) -> String {
    let mut s = String::from(
        "release = \"abr-11.5\"\n[options]\nphases = [\"operate\"]\npolicy = \"drop\"\n\n\
         [[host]]\nname = \"nas\"\nos = \"linux\"\naddresses = [\"192.0.2.5\", \"2001:db8:0:1::5\"]\nroles = [\"vault-smb\", \"vault-nfs\"]\n\n\
         [[allow]]\nname = \"admin-ssh\"\nfrom = \"192.0.2.20/32\"\nto = \"nas\"\nport = 22\n",
    );
    for i in 0..agents {
        let n = 20 + 2 * i;
        s.push_str(&format!(
            "\n[[host]]\nname = \"agent{i}\"\nos = \"linux\"\naddresses = [\"192.0.2.{n}\", \"2001:db8:0:1::{n:x}\"]\nroles = [\"agent\"]\n"
        ));
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Nftables,
    Iptables,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Nftables => "nftables",
            Backend::Iptables => "iptables",
        }
    }
}

/// A host namespace and a world namespace, the compiled tree, and apply.sh's state directories.
struct Lab {
    _guard: Namespaces,
    host: String,
    world: String,
    work: tempfile::TempDir,
    backend: Backend,
    _listener: TcpListener,
}

impl Lab {
    /// `tag` tells the namespaces of tests running at once apart.
    fn new(backend: Backend, tag: &str) -> Self {
        let pid = std::process::id() % 100_000;
        let host = format!("abrfwro{pid}{tag}h");
        let world = format!("abrfwro{pid}{tag}w");
        let guard = Namespaces(vec![host.clone(), world.clone()]);
        sh(&["ip", "netns", "add", &host]);
        sh(&["ip", "netns", "add", &world]);
        sh(&[
            "ip", "link", "add", "eth0", "netns", &host, "type", "veth", "peer", "eth0", "netns",
            &world,
        ]);
        for (ns, addrs) in [
            (&host, vec![HOST_V4]),
            (&world, vec![AGENT_V4, STRANGER_V4]),
        ] {
            in_ns(ns, &["ip", "link", "set", "lo", "up"]);
            in_ns(ns, &["ip", "link", "set", "eth0", "up"]);
            for a in addrs {
                in_ns(
                    ns,
                    &["ip", "addr", "add", &format!("{a}/32"), "dev", "eth0"],
                );
            }
            in_ns(ns, &["ip", "route", "add", "0.0.0.0/0", "dev", "eth0"]);
        }
        let listener = with_ns(&host, || {
            TcpListener::bind(SocketAddr::new(HOST_V4.parse().unwrap(), 445)).expect("listen 445")
        });
        let work = tempfile::tempdir().unwrap();
        let topo = work.path().join("site.toml");
        std::fs::write(&topo, site(12)).unwrap();
        let tree = work.path().join("tree");
        stdout_ok(&[
            "compile",
            topo.to_str().unwrap(),
            "--out-dir",
            tree.to_str().unwrap(),
        ]);
        assert!(
            tree.join("nas/ipset.rules").exists(),
            "the site must need ipsets"
        );
        Self {
            _guard: guard,
            host,
            world,
            work,
            backend,
            _listener: listener,
        }
    }

    fn dir(&self) -> PathBuf {
        self.work.path().join("tree/nas")
    }

    fn state(&self) -> PathBuf {
        self.work.path().join("state")
    }

    fn units(&self) -> PathBuf {
        self.work.path().join("units")
    }

    /// `sh DIR/apply.sh ARGS` in the host namespace, with the lab's state directories.
    fn apply_sh(&self, script: &Path, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.host, "sh"])
            .arg(script)
            .args(args)
            .env("ABRFW_STATE_DIR", self.state())
            .env("ABRFW_UNIT_DIR", self.units())
            .output()
            .expect("run apply.sh")
    }

    fn apply(&self, args: &[&str]) -> Output {
        self.apply_sh(&self.dir().join("apply.sh"), args)
    }

    fn apply_ok(&self, args: &[&str]) -> String {
        let out = self.apply(args);
        assert!(
            out.status.success(),
            "apply.sh {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn status(&self) -> String {
        std::fs::read_to_string(self.state().join("status")).unwrap_or_default()
    }

    /// Waits until the status file starts with `word` (the rollback timer writes it).
    fn wait_status(&self, word: &str) {
        for _ in 0..600 {
            if self.status().starts_with(word) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "status never became {word}: {:?}\nlog: {}",
            self.status(),
            std::fs::read_to_string(self.state().join("log")).unwrap_or_default()
        );
    }

    fn ns_sh(&self, script: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.host, "sh", "-ec", script])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the backend owns, in the form the comparison uses (see the module documentation).
    fn snapshot(&self) -> String {
        match self.backend {
            Backend::Nftables => self.ns_sh("nft list ruleset"),
            Backend::Iptables => {
                let normal = |text: String| -> String {
                    text.lines()
                        .filter(|l| !l.starts_with('#'))
                        .map(|l| match (l.starts_with(':'), l.rfind(" [")) {
                            (true, Some(i)) => format!("{} [0:0]", &l[..i]),
                            _ => l.to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let mut sets: Vec<String> = self
                    .ns_sh("ipset save")
                    .lines()
                    .map(|l| match l.find(" initval ") {
                        Some(i) => l[..i].to_owned(),
                        None => l.to_owned(),
                    })
                    .collect();
                sets.sort();
                format!(
                    "{}\n==6==\n{}\n==sets==\n{}\n",
                    normal(self.ns_sh("iptables-save")),
                    normal(self.ns_sh("ip6tables-save")),
                    sets.join("\n")
                )
            }
        }
    }

    /// Rules the host had before abrfw: a foreign table (or chain rule) and a foreign ipset,
    /// plus an earlier abrfw rule set of another shape, so a restore has something to restore.
    fn seed(&self) {
        match self.backend {
            Backend::Nftables => self.ns_sh(
                "nft -f - <<'EOF'\n\
                 table inet site {\nchain input {\ntype filter hook input priority 10; policy accept;\ntcp dport 2222 accept\n}\n}\n\
                 table inet abrfw {\nchain abrfw_in {\ntype filter hook input priority 0; policy accept;\ntcp dport 9 drop comment \"older abrfw\"\n}\n}\n\
                 EOF",
            ),
            Backend::Iptables => self.ns_sh(
                "ipset create site_admins hash:net family inet\n\
                 ipset add site_admins 10.1.0.0/16\n\
                 iptables -A INPUT -m set --match-set site_admins src -p tcp --dport 2222 -j ACCEPT\n\
                 ip6tables -A INPUT -p tcp --dport 2222 -j ACCEPT",
            ),
        };
    }

    /// A TCP connection from `src` (a world address) to the host's port 445.
    fn connects(&self, src: &str) -> bool {
        with_ns(&self.world, || {
            let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
            sock.bind(&SockAddr::from(SocketAddr::new(src.parse().unwrap(), 0)))
                .unwrap();
            sock.connect_timeout(
                &SockAddr::from(SocketAddr::new(HOST_V4.parse().unwrap(), 445)),
                Duration::from_millis(800),
            )
            .is_ok()
        })
    }

    /// Removes every rule and set, as a reboot does.
    fn flush_all(&self) {
        match self.backend {
            Backend::Nftables => self.ns_sh("nft flush ruleset"),
            Backend::Iptables => self.ns_sh(
                "for t in iptables ip6tables; do $t -P INPUT ACCEPT; $t -P OUTPUT ACCEPT; $t -F; $t -X; done\n\
                 ipset destroy",
            ),
        };
    }

    /// The unit's `ExecStart=` command, as words.
    fn exec_start(&self) -> Vec<String> {
        let unit = std::fs::read_to_string(self.units().join("abrfw.service")).unwrap();
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .expect("ExecStart");
        line.split_whitespace().map(str::to_owned).collect()
    }
}

fn possible() -> bool {
    system_tests_possible(
        &[
            "ip",
            "nft",
            "iptables-restore",
            "ip6tables-restore",
            "ipset",
            "setsid",
            "unshare",
        ],
        true,
    )
}

fn unconfirmed_rolls_back_confirmed_stays(backend: Backend, tag: &str) {
    let lab = Lab::new(backend, tag);
    lab.seed();
    let before = lab.snapshot();
    assert!(
        lab.connects(STRANGER_V4),
        "the stranger connects before the apply"
    );
    let b = backend.name();

    // Not confirmed: the rules hold until the timer restores the saved state exactly.
    let said = lab.apply_ok(&[b, "--confirm-within", "1"]);
    assert!(said.contains("apply.sh confirm"), "{said}");
    lab.wait_status("rolled-back");
    assert_eq!(
        lab.snapshot(),
        before,
        "{b}: the unconfirmed apply was not undone exactly"
    );
    assert!(
        lab.connects(STRANGER_V4),
        "{b}: the stranger connects again after the rollback"
    );

    // Confirmed: the rules stay, the timer is gone.
    lab.apply_ok(&[b, "--confirm-within", "600"]);
    let loaded = lab.snapshot();
    assert_ne!(loaded, before);
    assert!(
        !lab.connects(STRANGER_V4),
        "{b}: the rules block the stranger"
    );
    assert!(lab.connects(AGENT_V4), "{b}: the rules let the agent in");
    // A second apply while one waits for confirmation is refused.
    let second = lab.apply(&[b]);
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("waits for confirmation"));
    let timer: u32 = std::fs::read_to_string(lab.state().join("timer.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    lab.apply_ok(&["confirm"]);
    for _ in 0..600 {
        if !Path::new(&format!("/proc/{timer}")).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !Path::new(&format!("/proc/{timer}")).exists(),
        "the timer still runs"
    );
    assert!(lab.status().starts_with("confirmed"), "{}", lab.status());
    assert_eq!(lab.snapshot(), loaded, "{b}: the confirmed rules changed");

    // An invalid file never reaches the kernel.
    let bad = lab.work.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    for entry in std::fs::read_dir(lab.dir()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, bad.join(p.file_name().unwrap())).unwrap();
    }
    let broken = match backend {
        Backend::Nftables => "nftables.nft",
        Backend::Iptables => "ip6tables.rules",
    };
    let text = std::fs::read_to_string(bad.join(broken)).unwrap();
    std::fs::write(
        bad.join(broken),
        text.replace("COMMIT", "-A INPUT -j NOSUCHCHAIN\nCOMMIT")
            .replace(
                "chain abrfw_in {",
                "chain abrfw_in {\n\t\tip saddr 300.1.1.1 accept",
            ),
    )
    .unwrap();
    let refused = lab.apply_sh(&bad.join("apply.sh"), &[b]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("nothing was changed"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        lab.snapshot(),
        loaded,
        "{b}: the invalid file changed the rules"
    );

    // Another apply.sh holding the lock (this test process stands in for it) refuses a second.
    std::fs::create_dir(lab.state().join("lock")).unwrap();
    std::fs::write(
        lab.state().join("lock/pid"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let locked = lab.apply(&[b]);
    assert_eq!(locked.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&locked.stderr).contains("holds"));
    std::fs::remove_dir_all(lab.state().join("lock")).unwrap();

    // persist, then a simulated reboot: flush everything, run the unit's ExecStart.
    lab.apply_ok(&["persist"]);
    assert!(
        lab.units()
            .join("sysinit.target.wants/abrfw.service")
            .exists()
    );
    lab.flush_all();
    assert_ne!(lab.snapshot(), loaded);
    let exec = lab.exec_start();
    let mut cmd = vec!["ip", "netns", "exec", &lab.host];
    cmd.extend(exec.iter().map(String::as_str));
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .env("ABRFW_STATE_DIR", lab.state())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ExecStart failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // After a reboot the foreign rules are gone (they were never persisted by abrfw); abrfw's
    // rules and sets are back.
    let rebooted = lab.snapshot();
    match backend {
        Backend::Nftables => {
            let ours = |s: &str| s[s.find("table inet abrfw").expect("abrfw table")..].to_owned();
            assert_eq!(ours(&rebooted), ours(&loaded));
        }
        Backend::Iptables => {
            assert!(rebooted.contains("-A ABRFW-IN") && rebooted.contains("create abrfw_"));
            let abrfw_lines = |s: &str| -> Vec<String> {
                s.lines()
                    .filter(|l| l.contains("ABRFW") || l.contains("abrfw_"))
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(abrfw_lines(&rebooted), abrfw_lines(&loaded));
        }
    }
    assert!(lab.connects(AGENT_V4) && !lab.connects(STRANGER_V4));
    lab.apply_ok(&["unpersist"]);
    assert!(!lab.units().join("abrfw.service").exists());
    assert!(
        !lab.units()
            .join("sysinit.target.wants/abrfw.service")
            .exists()
    );
}

#[test]
fn nftables_apply_rolls_back_unless_confirmed_refuses_bad_files_and_persists() {
    if !possible() {
        return;
    }
    unconfirmed_rolls_back_confirmed_stays(Backend::Nftables, "n");
}

#[test]
fn iptables_apply_rolls_back_unless_confirmed_refuses_bad_files_and_persists() {
    if !possible() {
        return;
    }
    unconfirmed_rolls_back_confirmed_stays(Backend::Iptables, "i");
}

#[test]
fn rollback_on_demand_restores_the_state_before_the_apply() {
    if !possible() {
        return;
    }
    let lab = Lab::new(Backend::Iptables, "r");
    lab.seed();
    let before = lab.snapshot();
    lab.apply_ok(&["iptables", "--confirm-within", "600"]);
    lab.apply_ok(&["confirm"]);
    assert_ne!(lab.snapshot(), before);
    lab.apply_ok(&["rollback"]);
    assert_eq!(lab.snapshot(), before);
    assert!(lab.connects(STRANGER_V4));
    // Nothing confirmed any more: persist refuses.
    let persist = lab.apply(&["persist"]);
    assert_eq!(persist.status.code(), Some(2));
}

#[test]
fn apply_sh_is_posix_sh_and_refuses_bad_arguments() {
    let work = tempfile::tempdir().unwrap();
    stdout_ok(&[
        "compile",
        "--example",
        "--out-dir",
        work.path().to_str().unwrap(),
    ]);
    for host in ["nas", "helpdesk", "linux-agent", "vmware-va"] {
        let script = work.path().join(host).join("apply.sh");
        let out = Command::new("sh").arg("-n").arg(&script).output().unwrap();
        assert!(out.status.success(), "{host}: sh -n");
    }
    // Windows hosts get no apply.sh.
    assert!(!work.path().join("ams/apply.sh").exists());
    let script = work.path().join("nas/apply.sh");
    for args in [
        &["pf"][..],
        &["--confirm-within", "0"],
        &["--confirm-within", "x"],
        &["nftables", "--confirm-within"],
    ] {
        let out = Command::new("sh")
            .arg(&script)
            .args(args)
            .env("ABRFW_STATE_DIR", work.path().join("state"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
}

/// A gateway's iptables files hold only abrfw's chains: apply.sh loads them with `--noflush`,
/// hooks them into FORWARD once (a second apply adds no second jump), leaves the gateway's own
/// INPUT chain and policy alone, and an unconfirmed apply restores the filter table exactly.
#[test]
fn gateway_apply_keeps_the_gateways_own_rules_and_hooks_forward_once() {
    if !possible() {
        return;
    }
    let ns = format!("abrfw-rgw-{}", std::process::id());
    sh(&["ip", "netns", "add", &ns]);
    let _guard = Namespaces(vec![ns.clone()]);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    stdout_ok(&[
        "compile",
        crate::support::fixture("topologies/gateway-zones.toml")
            .to_str()
            .unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    let script = out.join("fw-core/apply.sh");
    let state = work.path().join("state");
    let run = |shell: &str| -> String {
        let o = Command::new("ip")
            .args(["netns", "exec", &ns, "sh", "-ec", shell])
            .env("ABRFW_STATE_DIR", &state)
            .env("ABRFW_UNIT_DIR", work.path().join("units"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let apply = script.to_str().unwrap();
    run("iptables -P INPUT DROP; iptables -A INPUT -p tcp --dport 22 -j ACCEPT");
    let own = "iptables -S INPUT; ip6tables -S INPUT";
    let before_input = run(own);
    let table = "iptables-save -t filter | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]/[0:0]/'";
    let before = run(table);
    run(&format!("sh {apply} iptables --confirm-within 600"));
    run(&format!("sh {apply} confirm"));
    let loaded = run(table);
    assert_ne!(loaded, before);
    // A second apply (a reload) changes nothing and adds no second jump.
    run(&format!("sh {apply} iptables --confirm-within 600"));
    assert_eq!(run(table), loaded);
    for tool in ["iptables", "ip6tables"] {
        let forward = run(&format!("{tool} -S FORWARD"));
        assert_eq!(
            forward.matches("-j ABRFW-GW").count(),
            1,
            "{tool}: {forward}"
        );
    }
    assert_eq!(run(own), before_input, "the gateway's own INPUT changed");
    // Rolling back restores the filter table as the last apply found it.
    run(&format!("sh {apply} rollback"));
    assert_eq!(run(table), loaded);
    assert_eq!(run(own), before_input);
}
