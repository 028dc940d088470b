//! Small fixture builder: run the built `abrfw`, find fixtures, compile them in-process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use abrfw_core::{Catalog, HostRules, compile, topology};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// Runs `abrfw ARGS` in the workspace root.
pub fn abrfw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abrfw"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run abrfw")
}

/// Stdout of a run that must succeed.
pub fn stdout_ok(args: &[&str]) -> String {
    let out = abrfw(args);
    assert!(
        out.status.success(),
        "abrfw {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// The valid fixture topologies, by name (file stem), sorted.
pub fn topologies() -> Vec<(String, PathBuf)> {
    let mut list: Vec<(String, PathBuf)> = std::fs::read_dir(fixture("topologies"))
        .expect("fixtures/topologies")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    list.sort();
    list
}

/// Compiles a fixture topology in-process.
pub fn compile_file(path: &Path) -> Vec<HostRules> {
    let text = std::fs::read_to_string(path).expect("read topology");
    let catalog = Catalog::builtin();
    let topo = topology::parse(&path.display().to_string(), &text, &catalog)
        .unwrap_or_else(|e| panic!("{e}"));
    compile(&catalog, &topo).expect("compile")
}

/// Whether an external tool is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Tests that need system tools (nft, ip netns, root) skip with a message when those are
/// missing, unless ABRFW_REQUIRE_SYSTEM_TESTS=1 (set by .ci/run) makes that a failure.
pub fn system_tests_possible(needs: &[&str], need_root: bool) -> bool {
    let missing: Vec<&str> = needs.iter().copied().filter(|t| !have(t)).collect();
    let root_ok = !need_root || is_root();
    if missing.is_empty() && root_ok {
        return true;
    }
    let why = if missing.is_empty() {
        "not running as root".to_owned()
    } else {
        format!("missing tools: {}", missing.join(", "))
    };
    if std::env::var_os("ABRFW_REQUIRE_SYSTEM_TESTS").is_some_and(|v| v == "1") {
        panic!("system test cannot run: {why} (ABRFW_REQUIRE_SYSTEM_TESTS=1)");
    }
    eprintln!("SKIPPED: {why}; set ABRFW_REQUIRE_SYSTEM_TESTS=1 to make this an error");
    record_skip(&why);
    false
}

/// Where skipped system tests are recorded, one line each, so that `.ci/run` can count them in
/// its summary line and fail on any (the harness swallows a passing test's stderr).
pub fn skips_file() -> PathBuf {
    root().join("target/abrfw-skipped-tests.txt")
}

fn record_skip(why: &str) {
    use std::io::Write as _;
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(skips_file())
    {
        let _ = writeln!(f, "{test}: {why}");
    }
}

/// Whether this run rewrites golden files (`ABRFW_BLESS=1`); CI never sets it.
pub fn blessing() -> bool {
    std::env::var_os("ABRFW_BLESS").is_some_and(|v| v == "1")
}

/// The one golden-file check: with `ABRFW_BLESS=1` writes `actual` to `path`, otherwise
/// asserts that `path` holds exactly `actual`, naming the file and how to re-bless.
pub fn check_or_bless(path: &Path, actual: &str) {
    check_or_bless_hinted(
        path,
        actual,
        "if the change is intended, rerun with ABRFW_BLESS=1",
    );
}

/// [`check_or_bless`] with the fix to print on a mismatch (`regenerate it with ...`).
pub fn check_or_bless_hinted(path: &Path, actual: &str, hint: &str) {
    if blessing() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
        std::fs::write(path, actual).expect("write reference");
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("missing {}; {hint}", path.display()));
    // Large generated files (man page, completions) would drown the report in a diff.
    if expected.len() + actual.len() > 200_000 {
        assert!(expected == actual, "{} differs; {hint}", path.display());
        return;
    }
    pretty_assertions::assert_eq!(expected, actual, "{} differs; {hint}", path.display());
}

/// The golden check of a directory: every file under `dir` is what `produced` holds for it, and
/// a reference no case produced fails too. `ABRFW_BLESS=1` rewrites the directory.
pub fn check_tree_or_bless(dir: &Path, produced: &std::collections::BTreeMap<PathBuf, String>) {
    if blessing() {
        let _ = std::fs::remove_dir_all(dir);
    } else {
        let expected = crate::golden::tree(dir);
        pretty_assertions::assert_eq!(
            expected.keys().collect::<Vec<_>>(),
            produced.keys().collect::<Vec<_>>(),
            "files under {} (references without a producer fail too); bless with ABRFW_BLESS=1",
            dir.display()
        );
    }
    for (rel, text) in produced {
        check_or_bless(&dir.join(rel), text);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
