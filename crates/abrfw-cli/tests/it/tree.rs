//! The output tree `compile --out-dir` owns: manifest, minimal regeneration, removal of departed
//! hosts' files, refusal to touch files abrfw did not write, drift `--check`, path safety, and
//! runs killed half-way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;

use crate::golden::tree;
use crate::support::{abrfw, fixture};

/// `abrfw compile SITE --out-dir DIR [EXTRA]`.
fn compile(site: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "compile",
        site.to_str().unwrap(),
        "--out-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    abrfw(&args)
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `text` with host `old` renamed to `new`, in its `[[host]]` table and the `[[allow]]` rules
/// that name it.
fn rename_host(text: &str, old: &str, new: &str) -> String {
    text.replace(&format!("name = \"{old}\""), &format!("name = \"{new}\""))
        .replace(&format!("to = \"{old}\""), &format!("to = \"{new}\""))
        .replace(&format!("from = \"{old}\""), &format!("from = \"{new}\""))
        // and as an item of a `from`/`to` list
        .replace(&format!(" \"{old}\","), &format!(" \"{new}\","))
        .replace(&format!("[\"{old}\","), &format!("[\"{new}\","))
        .replace(&format!(" \"{old}\"]"), &format!(" \"{new}\"]"))
}

/// The example site with `edit` applied to its text, written to `dir/site.toml`.
fn edited_example(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(fixture("topologies/example.toml")).unwrap();
    let path = dir.join("site.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// Every file's modification time, by path relative to `dir`.
fn mtimes(dir: &Path) -> BTreeMap<PathBuf, SystemTime> {
    tree(dir)
        .keys()
        .map(|rel| {
            let t = std::fs::metadata(dir.join(rel))
                .unwrap()
                .modified()
                .unwrap();
            (rel.clone(), t)
        })
        .collect()
}

/// Sets every file's modification time to a fixed past instant, so a rewrite is visible even
/// within the file system's timestamp granularity.
fn age(dir: &Path) -> SystemTime {
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for rel in tree(dir).keys() {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join(rel))
            .unwrap();
        f.set_modified(past).unwrap();
    }
    past
}

#[test]
fn a_one_host_edit_rewrites_exactly_that_hosts_files() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    ok(compile(&example, &out, &[]));
    let past = age(&out);
    // An extra IPv4 flow from outside the site to one host changes that host's rules only (and
    // not its IPv6 file).
    let site = edited_example(work.path(), |t| {
        t + "\n[[allow]]\nname = \"ops-ssh\"\nfrom = \"198.51.100.0/24\"\nto = \"nas\"\nport = 22\n"
    });
    let msg = ok(compile(&site, &out, &[]));
    assert!(
        msg.contains("(0 added, 3 changed, 35 unchanged, 0 removed)"),
        "{msg}"
    );
    let touched: Vec<String> = mtimes(&out)
        .into_iter()
        .filter(|(_, t)| *t != past)
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(
        touched,
        [
            "abrfw.json",
            "nas/iptables.rules",
            "nas/nftables.nft",
            "nas/rules.json"
        ]
    );
    // Running again changes nothing, not even the manifest.
    age(&out);
    let msg = ok(compile(&site, &out, &[]));
    assert!(msg.starts_with("wrote 0 of 38 file(s)"), "{msg}");
    assert!(mtimes(&out).values().all(|t| *t == past));
}

#[test]
fn check_lists_what_would_change_and_exits_0_when_current() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    // Nothing written yet: everything would be added.
    let run = compile(&example, &out, &["--check"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(!out.exists(), "--check wrote something");
    let listing = String::from_utf8(run.stdout).unwrap();
    // 34 rule files, 4 apply.sh and the manifest.
    assert_eq!(listing.lines().count(), 39, "{listing}");
    assert!(
        listing.lines().all(|l| l.starts_with("added: ")),
        "{listing}"
    );

    ok(compile(&example, &out, &[]));
    let run = compile(&example, &out, &["--check"]);
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(run.stdout, b"");

    // The site lost a host and gained an edit; someone also edited a generated file by hand.
    let site = edited_example(work.path(), |t| rename_host(&t, "xp-agent", "old-agent"));
    std::fs::write(out.join("console/netsh.cmd"), "edited\r\n").unwrap();
    let before = tree(&out);
    let run = compile(&site, &out, &["--check"]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(tree(&out), before, "--check changed the tree");
    let listing = String::from_utf8(run.stdout).unwrap();
    let o = out.display();
    for line in [
        format!("changed: {o}/abrfw.json"),
        format!("changed: {o}/console/netsh.cmd"),
        format!("added: {o}/old-agent/netsh.cmd"),
        format!("removed: {o}/xp-agent/firewall.ps1"),
        format!("removed: {o}/xp-agent/rules.json"),
    ] {
        assert!(listing.lines().any(|l| l == line), "{line} in:\n{listing}");
    }

    // Regenerating applies exactly that; the departed host's directory goes.
    ok(compile(&site, &out, &[]));
    assert!(!out.join("xp-agent").exists());
    assert!(out.join("old-agent/netsh.cmd").is_file());
    assert_eq!(compile(&site, &out, &["--check"]).status.code(), Some(0));
    // A comment in the site changes no rule but the manifest's site digest: drift all the same.
    std::fs::write(
        &site,
        std::fs::read_to_string(&site).unwrap() + "# reviewed\n",
    )
    .unwrap();
    let run = compile(&site, &out, &["--check"]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        format!("changed: {o}/abrfw.json\n")
    );
}

#[test]
fn files_abrfw_did_not_write_are_never_overwritten_or_deleted() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    // A file where abrfw would write, not listed in any manifest: refused, nothing written.
    std::fs::create_dir_all(out.join("nas")).unwrap();
    std::fs::write(out.join("nas/nftables.nft"), "mine\n").unwrap();
    let run = compile(&example, &out, &[]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("refusing to overwrite 1 file(s) that abrfw did not write"),
        "{stderr}"
    );
    assert!(stderr.contains("nas/nftables.nft"), "{stderr}");
    assert_eq!(
        tree(&out).into_keys().collect::<Vec<_>>(),
        [PathBuf::from("nas/nftables.nft")]
    );
    assert_eq!(compile(&example, &out, &["--check"]).status.code(), Some(2));

    // Once moved away, the run goes through; a foreign file beside abrfw's stays, and keeps a
    // departed host's directory alive.
    std::fs::rename(out.join("nas/nftables.nft"), out.join("nas/notes.txt")).unwrap();
    ok(compile(&example, &out, &[]));
    let site = edited_example(work.path(), |t| rename_host(&t, "nas", "nas2"));
    ok(compile(&site, &out, &[]));
    assert_eq!(
        tree(&out.join("nas")).into_keys().collect::<Vec<_>>(),
        [PathBuf::from("notes.txt")]
    );
    assert!(out.join("nas2/nftables.nft").is_file());

    // A manifest that is not abrfw's makes it refuse the whole directory.
    let other = work.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("abrfw.json"),
        "{\"name\": \"some other tool\"}\n",
    )
    .unwrap();
    let run = compile(&example, &other, &[]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("is not an abrfw manifest"));
    assert_eq!(tree(&other).len(), 1);
}

#[test]
fn a_tampered_manifest_cannot_make_abrfw_delete_outside_the_directory() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    ok(compile(&example, &out, &[]));
    let victim = work.path().join("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    for bad in ["..", "../victim.txt", "/tmp", "a\\\\..", "CON"] {
        let manifest = std::fs::read_to_string(out.join("abrfw.json")).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        v["hosts"][bad] = serde_json::json!({ "victim.txt": "00" });
        v["hosts"]["nas"]["../victim.txt"] = serde_json::json!("00");
        let dir = work.path().join("tampered");
        let _ = std::fs::remove_dir_all(&dir);
        ok(compile(&example, &dir, &[]));
        std::fs::write(dir.join("abrfw.json"), v.to_string()).unwrap();
        let run = compile(&example, &dir, &[]);
        assert_eq!(run.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("lists an unsafe path"),
            "{bad}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(victim.is_file());
    }
}

#[test]
fn host_names_cannot_escape_or_collide_in_the_output_directory() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    for (name, why) in [
        ("..", "must start with a letter or digit"),
        ("../etc", "must start with a letter or digit"),
        ("a/b", "contains a character other than"),
        ("a\\\\b", "contains a character other than"),
        ("/abs", "must start with a letter or digit"),
        ("CON", "reserved device name on Windows"),
        ("nul.example", "reserved device name on Windows"),
        ("com1", "reserved device name on Windows"),
        ("LPT9", "reserved device name on Windows"),
        ("host.", "ends with a dot"),
        ("Abrfw.json", "name of the manifest"),
        ("NAS", "duplicate host name"),
    ] {
        let site = edited_example(work.path(), |t| {
            t.replace("name = \"linux-agent\"", &format!("name = \"{name}\""))
        });
        let run = compile(&site, &out, &[]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(why), "{name}: {stderr}");
        assert!(
            stderr.contains("site.toml:"),
            "{name}: no location in {stderr}"
        );
        assert!(!out.exists(), "{name}: something was written");
    }
}

/// A site of `n` Linux agents and one management server, large enough that writing it takes a
/// while. `variant` changes the server's address, which changes every agent's files.
fn large_site(n: usize, variant: u8) -> String {
    let mut text = format!(
        "[[host]]\nname = \"ams\"\nos = \"windows\"\naddresses = [\"10.255.0.{}\"]\nroles = [\"management-server\"]\n",
        10 + variant
    );
    for i in 0..n {
        text += &format!(
            "\n[[host]]\nname = \"agent{i:05}\"\nos = \"linux\"\naddresses = [\"10.{}.{}.{}\"]\nroles = [\"agent\"]\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        );
    }
    text
}

#[test]
fn a_run_killed_half_way_leaves_old_or_new_files_and_a_consistent_manifest() {
    let work = tempfile::tempdir().unwrap();
    let sites: Vec<PathBuf> = (0..2u8)
        .map(|v| {
            let p = work.path().join(format!("site{v}.toml"));
            std::fs::write(&p, large_site(600, v)).unwrap();
            p
        })
        .collect();
    // The complete trees of both sites, to compare the interrupted one with; the slower of the
    // two runs sets the kill delays, so the kills land mid-write on a fast machine as on a slow one.
    let mut full_run = Duration::ZERO;
    let complete: Vec<BTreeMap<PathBuf, String>> = sites
        .iter()
        .enumerate()
        .map(|(v, site)| {
            let dir = work.path().join(format!("complete{v}"));
            let start = std::time::Instant::now();
            ok(compile(site, &dir, &[]));
            full_run = full_run.max(start.elapsed());
            tree(&dir)
        })
        .collect();
    assert_eq!(
        complete[0].keys().collect::<Vec<_>>(),
        complete[1].keys().collect::<Vec<_>>()
    );
    let manifest = Path::new("abrfw.json");
    let out = work.path().join("out");
    ok(compile(&sites[0], &out, &[]));
    let mut killed = 0;
    let mut mixed = 0;
    for round in 0..8u64 {
        let target = (round % 2 + 1) as usize % 2;
        let mut child = Command::new(env!("CARGO_BIN_EXE_abrfw"))
            .args(["compile", sites[target].to_str().unwrap(), "--out-dir"])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            // The generated site has no admin rules: its lockout warnings are not the point.
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // 10% to 80% of a full run: from before the first rename to deep into the writes.
        std::thread::sleep(full_run.mul_f64(0.1 + 0.1 * round as f64));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let now = tree(&out);
        for (rel, text) in &now {
            let name = rel.file_name().unwrap().to_string_lossy();
            if name.starts_with(".abrfw-") {
                continue; // a temporary file the killed run had not renamed yet
            }
            assert!(
                complete[0].get(rel) == Some(text) || complete[1].get(rel) == Some(text),
                "round {round}: {} is neither its old nor its new form",
                rel.display()
            );
        }
        // Every file is present, and the manifest describes one of the two trees.
        for rel in complete[0].keys() {
            assert!(
                now.contains_key(rel),
                "round {round}: {} missing",
                rel.display()
            );
        }
        assert!(
            now[manifest] == complete[0][manifest] || now[manifest] == complete[1][manifest],
            "round {round}: the manifest is neither the old nor the new one"
        );
        let from = |v: usize| {
            now.iter()
                .filter(|(r, t)| {
                    complete[v].get(*r) == Some(*t) && complete[1 - v].get(*r) != Some(*t)
                })
                .count()
        };
        if from(0) > 0 && from(1) > 0 {
            mixed += 1;
        }
    }
    assert!(killed > 0, "no run was interrupted");
    // Timed kills land mostly before the renames (the writer stages every file, syncs once,
    // then renames them quickly), so the rounds below stop a run between two renames every
    // time, through the test-only ABRFW_TEST_ABORT_AFTER_RENAMES (docs/security.md).
    let _ = mixed;
    for round in 0..2usize {
        let before = tree(&out);
        // The files a run towards version v renames into place: those of v's tree that are
        // missing or differ now (a file to remove is no rename; earlier rounds leave both
        // kinds). The timed kills may have left the tree at either version, so each round
        // writes towards the one farther away.
        let pending_for = |v: usize| {
            complete[v]
                .iter()
                .filter(|(r, t)| before.get(*r) != Some(*t))
                .count()
        };
        let target = if pending_for(0) >= pending_for(1) {
            0
        } else {
            1
        };
        let pending = pending_for(target);
        assert!(pending > 2, "round {round}: nothing to rename");
        let status = Command::new(env!("CARGO_BIN_EXE_abrfw"))
            .args(["compile", sites[target].to_str().unwrap(), "--out-dir"])
            .arg(&out)
            .env("ABRFW_TEST_ABORT_AFTER_RENAMES", (pending / 2).to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            status.code(),
            None,
            "round {round}: the run was not aborted"
        );
        let now = tree(&out);
        for (rel, text) in &now {
            if rel
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".abrfw-")
            {
                continue;
            }
            assert!(
                complete[0].get(rel) == Some(text) || complete[1].get(rel) == Some(text),
                "aborted round {round}: {} is neither its old nor its new form",
                rel.display()
            );
        }
        for rel in complete[0].keys() {
            assert!(
                now.contains_key(rel),
                "aborted round {round}: {} missing",
                rel.display()
            );
        }
        assert_eq!(
            now[manifest], before[manifest],
            "aborted round {round}: the manifest changed before the renames were done"
        );
        let from = |v: usize| {
            now.iter()
                .filter(|(r, t)| {
                    complete[v].get(*r) == Some(*t) && complete[1 - v].get(*r) != Some(*t)
                })
                .count()
        };
        assert!(
            from(0) > 0 && from(1) > 0,
            "aborted round {round}: the run was not stopped half-way through its renames"
        );
    }
    // A complete run afterwards finishes the job and clears the temporary files.
    ok(compile(&sites[1], &out, &[]));
    assert_eq!(tree(&out), complete[1]);
    assert_eq!(
        compile(&sites[1], &out, &["--check"]).status.code(),
        Some(0)
    );
}

#[test]
fn a_rename_only_in_case_and_a_newer_manifest_are_refused_with_advice() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    ok(compile(&example, &out, &[]));
    let before = tree(&out);
    // On a case-insensitive file system nas/ and NAS/ are one directory: removing the old files
    // after writing the new ones would delete them.
    let site = edited_example(work.path(), |t| rename_host(&t, "nas", "NAS"));
    let run = compile(&site, &out, &[]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("differs only in case"), "{stderr}");
    assert!(stderr.contains("/nas first"), "{stderr}");
    assert_eq!(tree(&out), before);

    let manifest = out.join("abrfw.json");
    let newer = std::fs::read_to_string(&manifest).unwrap().replace(
        "\"version\": 1,",
        "\"version\": 2,\n  \"signature\": \"x\",",
    );
    std::fs::write(&manifest, newer).unwrap();
    let run = compile(&example, &out, &[]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("is an abrfw manifest of version 2; this abrfw reads and writes version 1"),
        "{stderr}"
    );
}

/// A run that must be refused with exit 2 and a message naming `path`, writing nothing.
fn refused_naming(run: std::process::Output, path: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: it is {what}", path.display())),
        "{stderr}"
    );
}

#[test]
fn a_symbolic_link_anywhere_below_the_directory_is_refused_not_followed() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let victim = work.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep"), "precious\n").unwrap();
    let example = fixture("topologies/example.toml");

    // A host directory that is a link, on a fresh tree: nothing lands in victim/.
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink("../victim", out.join("nas")).unwrap();
    refused_naming(
        compile(&example, &out, &[]),
        &out.join("nas"),
        "a symbolic link",
    );
    assert_eq!(tree(&victim).len(), 1);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".abrfw.lock")
        .collect();
    assert_eq!(names, ["nas"], "something was written before the refusal");
    // A link to another host's directory is refused the same way.
    std::fs::remove_file(out.join("nas")).unwrap();
    std::os::unix::fs::symlink("linux-agent", out.join("nas")).unwrap();
    refused_naming(
        compile(&example, &out, &[]),
        &out.join("nas"),
        "a symbolic link",
    );
    std::fs::remove_file(out.join("nas")).unwrap();

    // In a written tree: a generated file replaced by a link, then a departed host's
    // directory replaced by a link (its removal must not delete through it), then the
    // manifest itself.
    ok(compile(&example, &out, &[]));
    let before = tree(&out);
    let nft = out.join("nas/nftables.nft");
    std::fs::remove_file(&nft).unwrap();
    std::os::unix::fs::symlink(victim.join("keep"), &nft).unwrap();
    refused_naming(compile(&example, &out, &[]), &nft, "a symbolic link");
    refused_naming(
        compile(&example, &out, &["--check"]),
        &nft,
        "a symbolic link",
    );
    std::fs::remove_file(&nft).unwrap();
    ok(compile(&example, &out, &[]));
    assert_eq!(tree(&out), before);

    let xp = out.join("xp-agent");
    let xp_files = tree(&xp);
    for (rel, text) in &xp_files {
        std::fs::write(victim.join(rel), text).unwrap();
    }
    std::fs::remove_dir_all(&xp).unwrap();
    std::os::unix::fs::symlink("../victim", &xp).unwrap();
    let site = edited_example(work.path(), |t| rename_host(&t, "xp-agent", "old-agent"));
    refused_naming(compile(&site, &out, &[]), &xp, "a symbolic link");
    assert_eq!(
        tree(&victim).len(),
        1 + xp_files.len(),
        "deleted through a link"
    );
    std::fs::remove_file(&xp).unwrap();

    let manifest = out.join("abrfw.json");
    std::fs::rename(&manifest, victim.join("abrfw.json")).unwrap();
    std::os::unix::fs::symlink(victim.join("abrfw.json"), &manifest).unwrap();
    refused_naming(compile(&example, &out, &[]), &manifest, "a symbolic link");
    assert_eq!(
        std::fs::read_link(&manifest).unwrap(),
        victim.join("abrfw.json")
    );
}

#[test]
fn a_fifo_is_refused_without_hanging_and_a_huge_file_is_not_read() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    ok(compile(&example, &out, &[]));
    // A FIFO where a generated file was: opening it for reading would block forever.
    let nft = out.join("nas/nftables.nft");
    std::fs::remove_file(&nft).unwrap();
    assert!(Command::new("mkfifo").arg(&nft).status().unwrap().success());
    refused_naming(compile(&example, &out, &[]), &nft, "a FIFO (named pipe)");
    refused_naming(
        compile(&example, &out, &["--check"]),
        &nft,
        "a FIFO (named pipe)",
    );
    std::fs::remove_file(&nft).unwrap();
    // A 64 GiB sparse file, not listed in the manifest: compared by size, refused as not
    // abrfw's, never read into memory (which would fail or take minutes).
    let f = std::fs::File::create(&nft).unwrap();
    f.set_len(64 << 30).unwrap();
    drop(f);
    let run = compile(&example, &out, &[]);
    // It is listed in the manifest, so it is abrfw's and changed: replaced, not read.
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(std::fs::metadata(&nft).unwrap().len() < 1 << 20);
}

#[test]
fn a_second_writer_waits_for_the_lock_then_says_who_holds_it() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    ok(compile(&example, &out, &[]));
    let lock_path = out.join(".abrfw.lock");
    assert_eq!(std::fs::read(&lock_path).unwrap(), b"", "lock not emptied");
    // Another writer holds the lock (this process, as pid 4242).
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    std::fs::write(&lock_path, "4242\n").unwrap();
    let before = tree(&out);
    let site = edited_example(work.path(), |t| rename_host(&t, "nas", "nas2"));
    let run = compile(&site, &out, &["--lock-wait", "0"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is locked by another abrfw run (pid 4242)",
            lock_path.display()
        )),
        "{stderr}"
    );
    assert_eq!(tree(&out), before, "the second writer wrote");
    // --check only reads, and does not wait.
    assert_eq!(compile(&example, &out, &["--check"]).status.code(), Some(0));
    drop(lock);
    ok(compile(&site, &out, &["--lock-wait", "0"]));
}

#[test]
fn two_writers_at_once_leave_a_tree_that_matches_its_manifest() {
    let work = tempfile::tempdir().unwrap();
    let sites: Vec<PathBuf> = (0..2u8)
        .map(|v| {
            let p = work.path().join(format!("site{v}.toml"));
            std::fs::write(&p, large_site(300, v)).unwrap();
            p
        })
        .collect();
    let out = work.path().join("out");
    for _ in 0..3 {
        let children: Vec<std::process::Child> = sites
            .iter()
            .map(|s| {
                Command::new(env!("CARGO_BIN_EXE_abrfw"))
                    .args(["compile", s.to_str().unwrap(), "--out-dir"])
                    .arg(&out)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let done = c.wait_with_output().unwrap();
            assert!(
                done.status.success(),
                "{}",
                String::from_utf8_lossy(&done.stderr)
            );
        }
        // Whichever ran last, the tree is exactly what its manifest says.
        let either = sites
            .iter()
            .any(|s| compile(s, &out, &["--check"]).status.code() == Some(0));
        assert!(either, "the tree matches neither site");
    }
}

#[test]
fn the_sweep_removes_only_abrfws_own_temporaries() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let example = fixture("topologies/example.toml");
    ok(compile(&example, &out, &[]));
    // A user's files that start like a temporary, and a link shaped like one, stay; a real
    // leftover temporary goes.
    for name in [".abrfw-notes", ".abrfw-tmp-x", ".abrfw-tmp-1-2-3"] {
        std::fs::write(out.join("nas").join(name), "mine\n").unwrap();
    }
    std::os::unix::fs::symlink("/etc/hostname", out.join("nas/.abrfw-tmp-7-7")).unwrap();
    std::fs::write(out.join("nas/.abrfw-tmp-12-0"), "half").unwrap();
    std::fs::write(out.join("console/.abrfw-tmp-12-1"), "half").unwrap();
    // After a clean run the lock file is empty and the next run does not sweep; a run killed
    // with its temporaries in place (pid 12) left its pid there.
    std::fs::write(out.join(".abrfw.lock"), "12\n").unwrap();
    let site = edited_example(work.path(), |t| {
        t + "\n[[allow]]\nname = \"ops-ssh\"\nfrom = \"198.51.100.0/24\"\nto = \"nas\"\nport = 22\n"
    });
    ok(compile(&site, &out, &[]));
    for name in [".abrfw-notes", ".abrfw-tmp-x", ".abrfw-tmp-1-2-3"] {
        assert_eq!(
            std::fs::read_to_string(out.join("nas").join(name)).unwrap(),
            "mine\n"
        );
    }
    assert!(out.join("nas/.abrfw-tmp-7-7").is_symlink());
    assert!(!out.join("nas/.abrfw-tmp-12-0").exists());
    // Also in a directory the run does not change.
    assert!(!out.join("console/.abrfw-tmp-12-1").exists());
    assert!(std::path::Path::new("/etc/hostname").exists());
    assert_eq!(std::fs::read(out.join(".abrfw.lock")).unwrap(), b"");
}
