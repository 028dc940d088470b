//! Scale benchmark: generated sites of 1,000, 10,000 and 100,000 hosts, compiled to every backend.
//!
//! `cargo bench -p abrfw-cli --bench scale` (or `just bench`). `ABRFW_BENCH_HOSTS=1000,20000`
//! picks other sizes. Each size runs in a fresh child process (this binary again, with
//! `ABRFW_BENCH_CHILD=N`), so its peak memory (VmHWM from /proc/self/status) is its own. Per size
//! it reports the wall time of parse, compile and each backend's rendering of every host and
//! gateway (on every core, as `abrfw compile` renders), output bytes, rules per host, and the
//! CPU time the process used (steadier than wall time on a shared machine); then,
//! as root with `nft` and `ip`, the time `nft -f` takes to load the largest host rule set and the
//! gateway's rule set in a fresh network namespace. Figures are printed, never asserted.
//! Last, per size, the release `abrfw` binary writes the site's tree against its floors (`cp -r`,
//! `--check`) in `ABRFW_BENCH_TREE_RUNS` rounds (default 3), and the class layout's size.
//! `ABRFW_BENCH_KEEP=DIR` also writes each generated site to `DIR/site-N.toml`, to time
//! `abrfw compile` on it; with `ABRFW_BENCH_SITES_ONLY=1` too, it only writes them.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use abrfw_core::diff::{Side, diff_sites};
use abrfw_core::{Catalog, HostRules, compile, compile_gateways, par, topology};

const DEFAULT_SIZES: &str = "1000,10000,100000";

/// A site of `total` hosts: the servers of every role in zone `servers` (one of them a FreeBSD
/// vault), two consoles and a Mac with a browser, and `total - 15` agents of every kind in zone
/// `office`, each with one IPv4 and one IPv6 address; a Linux and an OpenBSD gateway route between the zones.
fn site(total: usize) -> String {
    let mut t = String::from("[options]\npolicy = \"drop\"\n");
    let mut host = |name: &str, os: Option<&str>, zone: &str, addr: &str, roles: &str| {
        let _ = write!(t, "\n[[host]]\nname = \"{name}\"\nzone = \"{zone}\"\n");
        if let Some(os) = os {
            let _ = writeln!(t, "os = \"{os}\"");
        }
        let _ = writeln!(t, "addresses = [{addr}]\nroles = [{roles}]");
    };
    let win = Some("windows");
    let lx = Some("linux");
    host(
        "ams",
        win,
        "servers",
        "\"10.0.0.10\", \"fd00::10\"",
        "\"management-server\", \"license-server\"",
    );
    for i in 0..4 {
        host(
            &format!("sn{i}"),
            win,
            "servers",
            &format!("\"10.0.1.{i}\", \"fd00::1:{i}\""),
            "\"storage-node\"",
        );
    }
    host(
        "nas",
        lx,
        "servers",
        "\"10.0.2.1\", \"fd00::2:1\"",
        "\"vault-smb\", \"vault-nfs\"",
    );
    host(
        "sftp",
        lx,
        "servers",
        "\"10.0.2.2\", \"fd00::2:2\"",
        "\"vault-sftp\"",
    );
    host(
        "bsd-nas",
        Some("freebsd"),
        "servers",
        "\"10.0.2.3\", \"fd00::2:3\"",
        "\"vault-nfs\"",
    );
    host("vcenter", win, "servers", "\"10.0.3.1\"", "\"vcenter\"");
    host("esxi", None, "servers", "\"10.0.3.0/24\"", "\"esxi\"");
    host(
        "cloud",
        None,
        "servers",
        "\"203.0.113.0/24\"",
        "\"online-storage\"",
    );
    host(
        "web",
        None,
        "servers",
        "\"198.51.100.80\"",
        "\"acronis-website\"",
    );
    host(
        "console",
        win,
        "office",
        "\"10.0.4.11\", \"fd00::4:11\"",
        "\"management-console\", \"web-browser\"",
    );
    host(
        "console-lx",
        lx,
        "office",
        "\"10.0.4.12\", \"fd00::4:12\"",
        "\"management-console\"",
    );
    host(
        "mac",
        Some("macos"),
        "office",
        "\"10.0.4.13\", \"fd00::4:13\"",
        "\"web-browser\"",
    );
    for i in 0..total.saturating_sub(15) {
        // Agents spread over 10.16.0.0/12 and fd00:1::/96, one address of each family.
        let (a, b, c) = (16 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
        let addr = format!(
            "\"10.{a}.{b}.{c}\", \"fd00:1::{:x}:{:x}\"",
            i >> 16,
            i & 0xffff
        );
        let (os, roles) = match i % 20 {
            0..=9 => ("windows", "\"agent\""),
            10 => ("windows-legacy", "\"agent\""),
            11 => ("windows", "\"agent-exchange\""),
            12..=18 => ("linux", "\"agent\""),
            _ => ("appliance", "\"agent-vmware\""),
        };
        host(&format!("agent{i}"), Some(os), "office", &addr, roles);
    }
    t.push_str(
        "\n[[gateway]]\nname = \"fw\"\nos = \"linux\"\nzones = [\"servers\", \"office\"]\n\
         interfaces = { servers = \"eth0\", office = \"eth1\" }\n\
         \n[[gateway]]\nname = \"pf-fw\"\nos = \"openbsd\"\nzones = [\"servers\", \"office\"]\n\
         interfaces = { servers = \"em0\", office = \"em1\" }\n",
    );
    t
}

/// Bytes and line count of one rendered host (lines, not rules: the count means the same for
/// every backend of the table).
#[derive(Clone, Copy, Default)]
struct Output {
    bytes: usize,
    lines: usize,
}

fn measure(files: &[(&'static str, String)]) -> Output {
    Output {
        bytes: files.iter().map(|(_, t)| t.len()).sum(),
        lines: files.iter().map(|(_, t)| t.lines().count()).sum(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Peak resident memory of this process so far, in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system, every thread) of this process so far, from /proc/self/stat in
/// USER_HZ ticks (100 per second on Linux). On a shared machine it varies less than wall time.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// One size, in this process: prints the report lines and leaves the largest nftables rule sets
/// in `dir` for the parent to load.
fn child(total: usize, dir: &Path) {
    let catalog = Catalog::builtin();
    let text = site(total);
    if let Some(keep) = std::env::var_os("ABRFW_BENCH_KEEP") {
        std::fs::write(Path::new(&keep).join(format!("site-{total}.toml")), &text).expect("keep");
    }
    let start = Instant::now();
    let cpu_start = cpu_time();
    let topo = topology::parse("bench.toml", &text, &catalog).expect("valid site");
    let parse = start.elapsed();
    let hosts = compile(&catalog, &topo).expect("compile");
    let hosts_done = start.elapsed();
    let gateways = compile_gateways(&catalog, &topo).expect("compile gateways");
    let compiled = start.elapsed();
    println!(
        "{} hosts ({} bytes of TOML), {} rule sets, {} gateway(s)",
        topo.hosts.len(),
        text.len(),
        hosts.len(),
        gateways.len()
    );
    println!("  parse+validate      {:>9.1} ms", ms(parse));
    println!(
        "  peer-entry estimate {:>9} (limit {})",
        abrfw_core::peer_entries(&catalog, &topo).expect("estimate"),
        abrfw_core::MAX_PEER_ENTRIES
    );
    println!("  compile hosts       {:>9.1} ms", ms(hosts_done - parse));
    println!(
        "  compile gateways    {:>9.1} ms",
        ms(compiled - hosts_done)
    );
    let mut largest_nft: Option<(usize, String, String)> = None;
    for b in &abrfw_backends::BACKENDS {
        let t = Instant::now();
        let served: Vec<&HostRules> = hosts.iter().filter(|h| b.serves(h.os)).collect();
        let outputs = par::map(&served, |h| measure(&b.render_host(h).expect(b.name)));
        let gw_out: Vec<Output> = par::map(&gateways, |g| {
            measure(&b.render_gw(g).expect(b.name).unwrap_or_default())
        });
        let gw_out: Vec<Output> = gw_out.into_iter().filter(|o| o.bytes > 0).collect();
        let time = t.elapsed();
        let bytes: usize = outputs.iter().chain(&gw_out).map(|o| o.bytes).sum();
        let (max_i, max) = outputs
            .iter()
            .enumerate()
            .max_by_key(|(_, o)| o.lines)
            .map_or((0, 0), |(i, o)| (i, o.lines));
        let mean =
            outputs.iter().map(|o| o.lines).sum::<usize>() as f64 / outputs.len().max(1) as f64;
        let gw_lines = gw_out.iter().map(|o| o.lines).max();
        println!(
            "  render {:<12} {:>9.1} ms  {:>6} hosts {:>12} bytes  lines/host mean {:>5.1} max {:>4} ({}){}",
            b.name,
            ms(time),
            served.len(),
            bytes,
            mean,
            max,
            served.get(max_i).map_or("-", |h| h.host.as_str()),
            gw_lines.map_or(String::new(), |r| {
                format!("  {} gateway(s), max {r} lines", gw_out.len())
            }),
        );
        if b.name == abrfw_nftables::NAME {
            let (i, _) = outputs
                .iter()
                .enumerate()
                .max_by_key(|(_, o)| o.bytes)
                .unwrap_or((0, &Output::default()));
            if let Some(h) = served.get(i) {
                let text: String = b
                    .render_host(h)
                    .expect(b.name)
                    .into_iter()
                    .map(|(_, t)| t)
                    .collect();
                largest_nft = Some((text.len(), h.host.clone(), text));
            }
        }
    }
    let wall = start.elapsed();
    println!("  total wall          {:>9.1} ms", ms(wall));
    println!(
        "  CPU time            {:>9.1} ms (user + system, all threads, from the start)",
        ms(cpu_time() - cpu_start)
    );
    println!(
        "  peak memory         {:>9.1} MiB",
        peak_kib() as f64 / 1024.0
    );
    // `abrfw diff --to ab-12.5`: the same site under ab-12.5, compared host by host on the IR
    // (not part of the total above).
    let mut topo_12 = topo.clone();
    topo_12.release = catalog.release("ab-12.5").expect("built-in release");
    let hosts_12 = compile(&catalog, &topo_12).expect("compile");
    let t = Instant::now();
    let diff = diff_sites(
        Side {
            site: "bench.toml",
            release: topo.release,
            topology: &topo,
            hosts: &hosts,
            gateways: &gateways,
        },
        Side {
            site: "bench.toml",
            release: topo_12.release,
            topology: &topo_12,
            hosts: &hosts_12,
            gateways: &[],
        },
    );
    println!(
        "  diff 11.5 -> 12.5   {:>9.1} ms ({} hosts listed)",
        ms(t.elapsed()),
        diff.hosts.len()
    );
    if let Some((_, name, text)) = largest_nft {
        std::fs::write(dir.join(format!("host-{name}.nft")), text).expect("write");
    }
    for g in gateways.iter().filter(|g| g.os.is_linux()) {
        let files = abrfw_nftables::render_gateway(g, &Default::default())
            .expect("nft")
            .unwrap_or_default();
        for (_, text) in files {
            std::fs::write(dir.join(format!("gateway-{}.nft", g.gateway)), text).expect("write");
        }
    }
}

/// Times `nft -f file` in a new network namespace; `None` (with the reason printed) when this
/// is not root or `ip`/`nft` are missing.
fn nft_load(file: &Path, tag: &str) -> Option<Duration> {
    let ns = format!("abrfw-bench-{}-{tag}", std::process::id());
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    if !ok(Command::new("ip").args(["netns", "add", &ns])) {
        println!("  nft -f: skipped (needs root and iproute2)");
        return None;
    }
    let start = Instant::now();
    let loaded = ok(Command::new("ip")
        .args(["netns", "exec", &ns, "nft", "-f"])
        .arg(file));
    let time = start.elapsed();
    let _ = Command::new("ip").args(["netns", "delete", &ns]).status();
    if loaded {
        Some(time)
    } else {
        println!("  nft -f {}: failed", file.display());
        None
    }
}

fn main() {
    let exe = std::env::current_exe().expect("own path");
    if let Ok(n) = std::env::var("ABRFW_BENCH_CHILD") {
        let dir = std::env::var_os("ABRFW_BENCH_DIR").expect("dir");
        child(n.parse().expect("size"), Path::new(&dir));
        return;
    }
    let sizes = std::env::var("ABRFW_BENCH_HOSTS").unwrap_or_else(|_| DEFAULT_SIZES.to_owned());
    // Only write the sites into ABRFW_BENCH_KEEP (benches/aerleon/run.py uses them).
    if std::env::var_os("ABRFW_BENCH_SITES_ONLY").is_some() {
        let keep = std::env::var_os("ABRFW_BENCH_KEEP").expect("ABRFW_BENCH_KEEP=DIR");
        for size in sizes
            .split(',')
            .filter_map(|s| s.trim().parse::<usize>().ok())
        {
            let path = Path::new(&keep).join(format!("site-{size}.toml"));
            std::fs::write(&path, site(size)).expect("keep");
            println!("wrote {}", path.display());
        }
        return;
    }
    println!(
        "{} core(s); each size in a fresh process",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for size in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new(&exe)
            .env("ABRFW_BENCH_CHILD", size.to_string())
            .env("ABRFW_BENCH_DIR", dir.path())
            .status()
            .expect("run child");
        assert!(status.success(), "size {size} failed");
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for (i, f) in files.iter().enumerate() {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            let bytes = std::fs::metadata(f).map_or(0, |m| m.len());
            if let Some(t) = nft_load(f, &format!("{size}-{i}")) {
                println!("  nft -f {name:<28} {:>9.1} ms  ({bytes} bytes)", ms(t));
            }
        }
        drop(dir);
        tree(size);
    }
}

/// A finished child process: its wall time, CPU time (user + system) and peak resident memory.
struct Run {
    wall: Duration,
    cpu: Duration,
    peak_mib: f64,
}

/// Runs `program args` with stdout and stderr discarded (the bench sites have no admin
/// allow, so every host warns), and measures it with wait4's rusage.
#[allow(unsafe_code)] // wait4: the child's rusage (peak memory), which std does not give.
fn run(program: &str, args: &[&std::ffi::OsStr]) -> Run {
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child, which
    // `Child` has not waited for (it is dropped below without wait).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, status and usage point to live locals.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(got, pid, "wait4 {program}");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{program} {args:?} failed ({status})"
    );
    drop(child);
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Run {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        // ru_maxrss is in KiB on Linux.
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
    }
}

/// Files and bytes under `dir`.
fn tree_size(dir: &Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    for e in std::fs::read_dir(dir).expect("read tree") {
        let e = e.expect("entry");
        let meta = e.metadata().expect("metadata");
        if meta.is_dir() {
            let (f, b) = tree_size(&e.path());
            files += f;
            bytes += b;
        } else {
            files += 1;
            bytes += meta.len();
        }
    }
    (files, bytes)
}

/// The tree writer on the site of `total` hosts, measured against its floors in one run:
/// `abrfw compile --out-dir` into an empty directory against `cp -r` of the tree it wrote
/// (the same files, written without abrfw's fsyncs and renames) and against `cp -r` followed
/// by `sync -f` (the copy made durable, as abrfw makes its tree), a regeneration with nothing
/// changed against `--check` (which renders and compares, and writes nothing), and the class
/// layout's size. `ABRFW_BENCH_TREE_RUNS` rounds (default 3), each timing all of them in turn
/// after an untimed `sync` (and the regeneration and `--check` after an untimed `--check`, so
/// both find the tree in the page cache), so that load from other jobs falls on both sides of
/// a ratio; the medians of the times and of each round's ratios are printed, never asserted.
fn tree(total: usize) {
    let abrfw = env!("CARGO_BIN_EXE_abrfw");
    let rounds: usize = std::env::var("ABRFW_BENCH_TREE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let site_path = dir.path().join("site.toml");
    std::fs::write(&site_path, site(total)).expect("write site");
    let os = |p: &Path| p.as_os_str().to_owned();
    let compile = |extra: &[&str], into: &Path| {
        let mut args = vec![
            std::ffi::OsString::from("compile"),
            os(&site_path),
            "--out-dir".into(),
            os(into),
        ];
        args.extend(extra.iter().map(std::ffi::OsString::from));
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run(abrfw, &refs)
    };
    let settle = || {
        let _ = Command::new("sync").status();
    };
    let mut first = Vec::new();
    let mut cp = Vec::new();
    let mut cp_sync = Vec::new();
    let mut regen = Vec::new();
    let mut check = Vec::new();
    let mut class = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    let mut classes = dir.path().join("classes");
    // Each round into new directories, all removed at the end: on this machine's ext4
    // (mounted with `discard`), removing a 3.6 GB tree slows the next writer's block
    // allocation for a while, on both sides of a ratio but not equally.
    for r in 0..rounds {
        let out = dir.path().join(format!("tree-{r}"));
        let copy = dir.path().join(format!("copy-{r}"));
        classes = dir.path().join(format!("classes-{r}"));
        settle();
        first.push(compile(&[], &out));
        (files, bytes) = tree_size(&out);
        settle();
        let c = run(
            "cp",
            &[os(&out).as_os_str(), "-r".as_ref(), os(&copy).as_os_str()],
        );
        // cp leaves its data in the page cache; abrfw's writer makes the tree durable (syncfs).
        let s = run("sync", &["-f".as_ref(), os(&copy).as_os_str()]);
        cp_sync.push(Run {
            wall: c.wall + s.wall,
            ..c
        });
        cp.push(c);
        settle();
        // Both read every file of the tree: an untimed --check first, so that neither meets
        // the tree the cp above pushed out of the page cache (timed right after cp, the
        // regeneration paid that alone: 1.53x --check at 100,000 hosts, 1.02x at 10,000).
        compile(&["--check"], &out);
        regen.push(compile(&[], &out));
        check.push(compile(&["--check"], &out));
        settle();
        class.push(compile(&["--layout", "classes"], &classes));
    }
    let (class_files, class_bytes) = tree_size(&classes);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let secs = |runs: &[Run]| median(runs.iter().map(|r| r.wall.as_secs_f64()).collect());
    let cpu = |runs: &[Run]| median(runs.iter().map(|r| r.cpu.as_secs_f64()).collect());
    let peak = |runs: &[Run]| median(runs.iter().map(|r| r.peak_mib).collect());
    let ratio = |a: &[Run], b: &[Run]| {
        median(
            a.iter()
                .zip(b)
                .map(|(a, b)| a.wall.as_secs_f64() / b.wall.as_secs_f64())
                .collect(),
        )
    };
    println!(
        "{total} hosts: the tree (abrfw compile --out-dir, release binary, its own process; medians of {rounds} round(s))"
    );
    println!(
        "  first write           {:>9.2} s  {:>7.1} MiB peak  ({files} files, {:.1} MiB; CPU {:.2} s)",
        secs(&first),
        peak(&first),
        mib(bytes),
        cpu(&first)
    );
    println!(
        "  cp -r of that tree    {:>9.2} s              ratio first write / cp -r: {:.2} (CPU {:.2} s)",
        secs(&cp),
        ratio(&first, &cp),
        cpu(&cp)
    );
    println!(
        "  cp -r, then sync -f   {:>9.2} s              ratio first write / (cp -r + sync): {:.2}",
        secs(&cp_sync),
        ratio(&first, &cp_sync)
    );
    println!(
        "  regeneration, no change {:>7.2} s  {:>7.1} MiB peak",
        secs(&regen),
        peak(&regen)
    );
    println!(
        "  --check               {:>9.2} s  {:>7.1} MiB peak  ratio regeneration / --check: {:.2}",
        secs(&check),
        peak(&check),
        ratio(&regen, &check)
    );
    println!(
        "  --layout classes      {:>9.2} s  {:>7.1} MiB peak  ({class_files} files, {:.2} MiB)",
        secs(&class),
        peak(&class),
        mib(class_bytes)
    );
}

/// The median of some figures (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
