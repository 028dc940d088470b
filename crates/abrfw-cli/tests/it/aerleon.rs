//! benches/aerleon/gen.py, the Aerleon policy generator of the Aerleon benchmark, stays honest:
//! on the example site, in both layouts, every rules.json rule becomes one term of the policy for
//! its directory, in the same order, under the header of its direction, with the rule's protocol,
//! peers, destination ports and source ports (read back through the definitions gen.py wrote).
//! Needs python3 only, not Aerleon; that Aerleon compiles these policies is checked by the
//! benchmark (benches/aerleon/run.py), which has Aerleon.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pretty_assertions::assert_eq;

use crate::support::{root, stdout_ok};

/// One term of a policy, or one rule of rules.json, as gen.py should map it.
#[derive(Debug, PartialEq)]
struct Term {
    hook: String,
    protocol: String,
    peers: Vec<String>,
    destination_ports: String,
    source_ports: Option<String>,
}

/// `NAME = VALUE` definitions with continuation lines (Aerleon's .net and .svc syntax).
fn definitions(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut defs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        if let Some((name, value)) = line.split_once(" = ") {
            current = name.to_owned();
            defs.entry(current.clone())
                .or_default()
                .push(value.to_owned());
        } else if !line.trim().is_empty() {
            defs.get_mut(&current).unwrap().push(line.trim().to_owned());
        }
    }
    defs
}

/// A service definition `first[-last]/protocol`, checked against the term's protocol.
fn service(svc: &BTreeMap<String, Vec<String>>, name: &str, protocol: &str) -> String {
    let [value] = svc[name].as_slice() else {
        panic!("{name}: {:?}", svc[name])
    };
    let (ports, proto) = value.split_once('/').unwrap();
    assert_eq!(proto, protocol, "{name}");
    ports.to_owned()
}

/// The terms of one .pol file, resolved through the definitions.
fn policy_terms(
    text: &str,
    net: &BTreeMap<String, Vec<String>>,
    svc: &BTreeMap<String, Vec<String>>,
) -> Vec<Term> {
    let mut hook = String::new();
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    let mut terms = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(target) = line.strip_prefix("target:: nftables mixed ") {
            hook = target.split(' ').next().unwrap().to_owned();
        } else if let Some((key, value)) = line.split_once(":: ") {
            fields.insert(key, value);
        } else if line == "}" && fields.contains_key("action") {
            assert_eq!(fields["action"], "accept");
            let protocol = fields["protocol"].to_owned();
            let side = if hook == "INPUT" {
                "source-address"
            } else {
                "destination-address"
            };
            terms.push(Term {
                hook: hook.clone(),
                peers: net[fields[side]].clone(),
                destination_ports: service(svc, fields["destination-port"], &protocol),
                source_ports: fields
                    .get("source-port")
                    .map(|name| service(svc, name, &protocol)),
                protocol,
            });
            fields.clear();
        }
    }
    terms
}

/// `first` or `first-last` from a rules.json port range.
fn ports(range: &serde_json::Value) -> String {
    let (first, last) = (&range["first"], &range["last"]);
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

/// The terms gen.py should write for one rules.json: inbound rules first, then outbound.
fn expected_terms(doc: &serde_json::Value) -> Vec<Term> {
    let rules = doc["rules"].as_array().unwrap();
    let mut terms = Vec::new();
    for (direction, hook) in [("inbound", "INPUT"), ("outbound", "OUTPUT")] {
        for rule in rules.iter().filter(|r| r["direction"] == direction) {
            let peers = ["ipv4", "ipv6"]
                .iter()
                .flat_map(|f| {
                    doc["peer_groups"][rule["peers"].as_str().unwrap()][f]
                        .as_array()
                        .unwrap()
                })
                .map(|p| p.as_str().unwrap().to_owned())
                .collect();
            terms.push(Term {
                hook: hook.to_owned(),
                protocol: rule["protocol"].as_str().unwrap().to_owned(),
                peers,
                destination_ports: ports(&rule["destination_ports"]),
                source_ports: (!rule["source_ports"].is_null())
                    .then(|| ports(&rule["source_ports"])),
            });
        }
    }
    terms
}

#[test]
fn gen_py_writes_one_term_per_rule_in_both_layouts() {
    for layout in ["hosts", "classes"] {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("tree");
        let out = tmp.path().join("aerleon");
        stdout_ok(&[
            "compile",
            "--example",
            "--out-dir",
            tree.to_str().unwrap(),
            "--layout",
            layout,
        ]);
        let run = Command::new("python3")
            .arg(root().join("benches/aerleon/gen.py"))
            .args([&tree, &out])
            .output()
            .expect("python3 runs");
        assert!(
            run.status.success(),
            "gen.py failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let net = definitions(&out.join("def/NETWORK.net"));
        let svc = definitions(&out.join("def/SERVICES.svc"));
        let mut dirs = 0;
        let mut rules = 0;
        for entry in std::fs::read_dir(&tree).unwrap() {
            let dir = entry.unwrap().path();
            let Ok(text) = std::fs::read_to_string(dir.join("rules.json")) else {
                continue;
            };
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let name = dir.file_name().unwrap().to_str().unwrap();
            let pol = std::fs::read_to_string(out.join(format!("policies/pol/{name}.pol")))
                .unwrap_or_else(|e| panic!("{layout}: no policy for {name}: {e}"));
            let expected = expected_terms(&doc);
            assert_eq!(policy_terms(&pol, &net, &svc), expected, "{layout}: {name}");
            dirs += 1;
            rules += expected.len();
        }
        assert_eq!(
            String::from_utf8(run.stdout).unwrap(),
            format!(
                "layout {layout}: {dirs} policies, abrfw rules {rules}, aerleon terms {rules}\n"
            )
        );
        assert!(rules > 100, "{layout}: {rules} rules");
    }
}
