//! `compile --out-dir DIR --layout classes`: one directory per host class and the index
//! `DIR/index/hosts.json`; `--check`, `inventory --tree` and switching layouts on a tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use crate::golden::tree;
use crate::support::{abrfw, check_or_bless, fixture, stdout_ok};

/// `abrfw compile SITE --out-dir DIR [EXTRA]`, which must succeed; its stdout.
fn compile(site: &Path, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "compile",
        site.to_str().unwrap(),
        "--out-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    stdout_ok(&args)
}

/// `abrfw compile SITE --out-dir DIR --check [EXTRA]`: exit status and listing.
fn check(site: &Path, dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "compile",
        site.to_str().unwrap(),
        "--out-dir",
        dir.to_str().unwrap(),
        "--check",
    ];
    args.extend_from_slice(extra);
    let run = abrfw(&args);
    (run.status.code(), String::from_utf8(run.stdout).unwrap())
}

/// The index of a class tree: host -> class.
fn index(dir: &Path) -> BTreeMap<String, String> {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index/hosts.json")).unwrap())
            .unwrap();
    assert_eq!(index["version"], 2);
    let mut class_of = BTreeMap::new();
    for (class, entry) in index["classes"].as_object().unwrap() {
        for host in entry["hosts"].as_object().unwrap().keys() {
            assert!(
                class_of.insert(host.clone(), class.clone()).is_none(),
                "{host} twice"
            );
        }
    }
    class_of
}

/// A rules.json with its own name and addresses set aside and each peer group's classes
/// replaced by their members: a class's document must equal each member's, so read.
fn resolved(text: &str, members: &BTreeMap<String, Vec<String>>) -> serde_json::Value {
    let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
    doc["host"] = serde_json::Value::Null;
    doc["addresses"] = serde_json::Value::Null;
    for group in doc["peer_groups"].as_object_mut().unwrap().values_mut() {
        let group = group.as_object_mut().unwrap();
        let mut hosts: Vec<String> = group["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        if let Some(classes) = group.remove("classes") {
            for class in classes.as_array().unwrap() {
                hosts.extend(members[class.as_str().unwrap()].iter().cloned());
            }
        }
        hosts.sort();
        group.insert("hosts".into(), hosts.into());
    }
    doc
}

/// fixtures/topologies/gateway-zones.toml (a gateway, three zones) with two more Linux agents
/// in the servers and two more Windows agents in the office, none named by an `[[allow]]`:
/// each pair is one class.
fn site_with_agents(dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(fixture("topologies/gateway-zones.toml")).unwrap();
    for (name, os, zone, addr) in [
        ("lx2", "linux", "servers", "192.0.2.21"),
        ("lx3", "linux", "servers", "192.0.2.22"),
        ("office-win2", "windows", "office", "198.51.100.21"),
        ("office-win3", "windows", "office", "198.51.100.22"),
    ] {
        text.push_str(&format!(
            "\n[[host]]\nname = \"{name}\"\nos = \"{os}\"\nzone = \"{zone}\"\naddresses = [\"{addr}\"]\nroles = [\"agent\"]\n"
        ));
    }
    let path = dir.join("site.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_class_tree_holds_each_class_once_and_an_index_of_every_host() {
    let work = tempfile::tempdir().unwrap();
    let site = site_with_agents(work.path());
    let per_host = work.path().join("hosts");
    let classes = work.path().join("classes");
    compile(&site, &per_host, &[]);
    let said = compile(&site, &classes, &["--layout", "classes"]);
    assert!(said.contains("class(es)"), "{said}");

    // The index and the list of files are references a reviewer reads.
    let index_text = std::fs::read_to_string(classes.join("index/hosts.json")).unwrap();
    check_or_bless(
        &fixture("classes/gateway-zones-agents/index/hosts.json"),
        &index_text,
    );
    let files: Vec<String> = tree(&classes)
        .keys()
        .map(|p| p.display().to_string())
        .collect();
    check_or_bless(
        &fixture("classes/gateway-zones-agents/files.txt"),
        &(files.join("\n") + "\n"),
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(classes.join("abrfw.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["layout"], "classes");
    // A per-host manifest has no layout field: trees written before layouts are unchanged.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(per_host.join("abrfw.json")).unwrap())
            .unwrap();
    assert!(manifest.get("layout").is_none());

    // Every host and gateway of the per-host tree is in the index, and its class's files are
    // its own files but for the lines that name it (header comments, Windows rule names,
    // apply.sh's HOST) and, in rules.json, its own name and addresses, which the index keeps.
    let index = index(&classes);
    let hosts: Vec<String> = std::fs::read_dir(&per_host)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(index.len(), hosts.len());
    assert_eq!(index["lx2"], index["lx3"]);
    assert_eq!(index["office-win2"], index["office-win3"]);
    // lx is named by an [[allow]] (its own flow), office-win too: classes of their own.
    assert_ne!(index["lx"], index["lx2"]);
    assert_ne!(index["office-win"], index["office-win2"]);
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (host, class) in &index {
        members.entry(class.clone()).or_default().push(host.clone());
    }
    let distinct: std::collections::BTreeSet<&String> = index.values().collect();
    assert_eq!(distinct.len(), index.len() - 2);
    // Class names stand for their members in the class files' peer groups.
    let mut folded = 0;
    for host in &hosts {
        let class = &index[host];
        let own: BTreeMap<PathBuf, String> = tree(&per_host.join(host));
        let shared: BTreeMap<PathBuf, String> = tree(&classes.join(class));
        assert_eq!(
            own.keys().collect::<Vec<_>>(),
            shared.keys().collect::<Vec<_>>(),
            "{host} -> {class}"
        );
        for (file, text) in &own {
            if file == Path::new("rules.json") {
                crate::validate::check_rules_json(&format!("{class}/rules.json"), &shared[file]);
                folded += shared[file].matches("\"classes\": [\"").count();
                assert_eq!(
                    resolved(&shared[file], &members),
                    resolved(text, &members),
                    "{host} -> {class}: rules.json"
                );
                continue;
            }
            let theirs = &shared[file];
            let (a, b): (Vec<&str>, Vec<&str>) = (text.lines().collect(), theirs.lines().collect());
            assert_eq!(a.len(), b.len(), "{host}/{}", file.display());
            for (x, y) in a.iter().zip(&b) {
                if x != y {
                    assert!(
                        x.contains(host.as_str()) && y.contains(class.as_str()),
                        "{host}/{} and {class}: {x:?} vs {y:?}",
                        file.display()
                    );
                }
            }
        }
    }

    assert!(folded > 0, "no class rules.json names a class");

    // Deterministic: a second tree from the same site is byte-identical.
    let again = work.path().join("again");
    compile(&site, &again, &["--layout", "classes"]);
    assert_eq!(tree(&again), tree(&classes));

    // --check understands the class tree, with or without --layout: nothing to do.
    assert_eq!(check(&site, &classes, &[]), (Some(0), String::new()));
    assert_eq!(
        check(&site, &classes, &["--layout", "classes"]),
        (Some(0), String::new())
    );
    // A class file edited by hand is drift, and a regeneration without --layout keeps the
    // class layout.
    let (class, _) = tree(&classes)
        .into_iter()
        .find(|(p, _)| p.ends_with("nftables.nft"))
        .unwrap();
    std::fs::write(classes.join(&class), "edited\n").unwrap();
    let (code, listing) = check(&site, &classes, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        listing,
        format!("changed: {}\n", classes.join(&class).display())
    );
    compile(&site, &classes, &[]);
    assert_eq!(tree(&classes), tree(&again));

    // A gateway is its own class under its own name; one named like the index is refused.
    assert_eq!(index["fw-core"], "fw-core");
    let text = std::fs::read_to_string(&site).unwrap();
    std::fs::write(
        &site,
        text.replace("name = \"fw-core\"", "name = \"index\""),
    )
    .unwrap();
    let run = abrfw(&[
        "compile",
        site.to_str().unwrap(),
        "--out-dir",
        work.path().join("refused").to_str().unwrap(),
        "--layout",
        "classes",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("rename the gateway"));
    assert!(!work.path().join("refused").join("abrfw.json").exists());
}

#[test]
fn switching_layouts_removes_the_other_layouts_files_and_nothing_else() {
    let work = tempfile::tempdir().unwrap();
    let site = fixture("topologies/example.toml");
    let out = work.path().join("out");
    compile(&site, &out, &[]);
    // Someone keeps a note in a host's directory: abrfw does not own it, so it stays, and so
    // does its directory.
    std::fs::write(out.join("nas/NOTES.txt"), "ask before rebooting\n").unwrap();

    let (code, listing) = check(&site, &out, &["--layout", "classes"]);
    assert_eq!(code, Some(1));
    assert!(
        listing
            .lines()
            .any(|l| l == format!("removed: {}/nas/nftables.nft", out.display())),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l == format!("added: {}/index/hosts.json", out.display())),
        "{listing}"
    );
    compile(&site, &out, &["--layout", "classes"]);
    let mut classes_tree = tree(&out);
    classes_tree.remove(Path::new("nas/NOTES.txt"));
    let fresh = work.path().join("fresh");
    compile(&site, &fresh, &["--layout", "classes"]);
    assert_eq!(
        classes_tree,
        tree(&fresh),
        "the per-host files were not all removed"
    );
    assert!(out.join("nas/NOTES.txt").is_file());
    assert!(
        !out.join("linux-agent").exists(),
        "an emptied host directory stayed"
    );

    // And back: the class directories and the index go.
    compile(&site, &out, &["--layout", "hosts"]);
    let mut hosts_tree = tree(&out);
    hosts_tree.remove(Path::new("nas/NOTES.txt"));
    let fresh = work.path().join("fresh-hosts");
    compile(&site, &fresh, &[]);
    assert_eq!(hosts_tree, tree(&fresh));
    assert!(!out.join("index").exists());
    assert!(
        std::fs::read_dir(&out).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("class-")),
        "a class directory stayed"
    );
}

#[test]
fn inventory_points_each_host_at_its_class_directory() {
    let work = tempfile::tempdir().unwrap();
    let site = fixture("topologies/gateway-zones.toml");
    let out = work.path().join("out");
    let inventory = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&stdout_ok(&[
            "inventory",
            site.to_str().unwrap(),
            "--tree",
            dir.to_str().unwrap(),
        ]))
        .unwrap()
    };
    // Entries of every group, by host.
    fn entries(inv: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        let mut stack = vec![&inv["all"]];
        while let Some(g) = stack.pop() {
            if let Some(hosts) = g["hosts"].as_object() {
                for (h, v) in hosts {
                    out.insert(h.clone(), v.clone());
                }
            }
            if let Some(children) = g["children"].as_object() {
                stack.extend(children.values());
            }
        }
        out
    }
    // No tree yet: refused (the inventory records the tree's absolute path).
    let run = abrfw(&[
        "inventory",
        site.to_str().unwrap(),
        "--tree",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    // A per-host tree: no abrfw_dir, the playbooks use abrfw_host.
    compile(&site, &out, &[]);
    assert!(
        entries(&inventory(&out))
            .values()
            .all(|v| v.get("abrfw_dir").is_none())
    );

    compile(&site, &out, &["--layout", "classes"]);
    let index = index(&out);
    let entries = entries(&inventory(&out));
    assert_eq!(entries.len(), index.len());
    for (host, v) in &entries {
        assert_eq!(v["abrfw_host"], host.as_str());
        assert_eq!(v["abrfw_dir"], index[host].as_str(), "{host}");
        assert!(out.join(&index[host]).is_dir());
    }

    // An index that does not cover the site is refused with advice, not guessed around.
    let text = std::fs::read_to_string(out.join("index/hosts.json")).unwrap();
    // inventory --tree refuses the index (exit 2); what it says.
    let refused = || {
        let run = abrfw(&[
            "inventory",
            site.to_str().unwrap(),
            "--tree",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(2));
        String::from_utf8_lossy(&run.stderr).into_owned()
    };
    let first = index.keys().next().unwrap();
    std::fs::write(
        out.join("index/hosts.json"),
        text.replace(&format!("\"{first}\":"), "\"someone-else\":"),
    )
    .unwrap();
    let stderr = refused();
    assert!(
        stderr.contains(first.as_str()) && stderr.contains("run abrfw compile --out-dir"),
        "{stderr}"
    );
    // So is an index that puts a host in two classes.
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let classes = doc["classes"].as_object_mut().unwrap();
    let (home, other) = (
        index[first].clone(),
        classes
            .keys()
            .find(|c| **c != index[first])
            .unwrap()
            .clone(),
    );
    let entry = classes[&home]["hosts"][first.as_str()].clone();
    classes[&other]["hosts"][first.as_str()] = entry;
    std::fs::write(out.join("index/hosts.json"), doc.to_string()).unwrap();
    let stderr = refused();
    assert!(
        stderr.contains(&format!("lists host {first} under both")),
        "{stderr}"
    );
}
