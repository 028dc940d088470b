//! rules.json: every generated file validates against the published JSON Schema, and the schema
//! in docs/ is the one the code generates.

use crate::golden::compile_to_tree;
use crate::support::{check_or_bless_hinted, root, topologies};

const SCHEMA_PATH: &str = "docs/rules.schema.json";

#[test]
fn docs_rules_schema_is_generated_from_the_code() {
    let generated = abrfw_json::schema().unwrap();
    let path = root().join(SCHEMA_PATH);
    check_or_bless_hinted(
        &path,
        &generated,
        "it is out of date; regenerate it with:\n    ABRFW_BLESS=1 cargo test --test it json",
    );
}

#[test]
fn every_generated_rules_json_validates_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(SCHEMA_PATH)).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let mut checked = 0;
    for (name, path) in topologies() {
        for (rel, text) in compile_to_tree(&path) {
            if !rel.ends_with("rules.json") {
                continue;
            }
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{name}/{}: {}",
                rel.display(),
                errors.join("\n")
            );
            assert_eq!(doc["version"], abrfw_json::FORMAT_VERSION);
            // What the schema cannot say: each rule names a group that exists, and each group
            // is named by a rule, the groups numbered p1, p2, ... in order of first use.
            let groups = doc["peer_groups"].as_object().unwrap();
            let mut used: Vec<&str> = Vec::new();
            for rule in doc["rules"].as_array().unwrap() {
                let name = rule["peers"].as_str().unwrap();
                assert!(groups.contains_key(name), "{name}: no such group");
                if !used.contains(&name) {
                    used.push(name);
                }
            }
            let numbered: Vec<String> = (1..=used.len()).map(|n| format!("p{n}")).collect();
            assert_eq!(used, numbered, "{name}/{}", rel.display());
            assert_eq!(groups.len(), used.len(), "{name}/{}", rel.display());
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} rules.json files checked");
    // The schema is strict: a misspelt field or a port 0 is rejected.
    let bad = serde_json::json!({"format": "abrfw-rules", "version": 2, "host": "x", "os": "linux",
        "roles": [], "release": "abr-11.5", "policy": "drop",
        "addresses": {"ipv4": ["10.0.0.1/32"], "ipv6": []},
        "rules": [{"flow": "f", "purpose": "p", "direction": "inbound", "protocol": "tcp",
            "destination_ports": {"first": 0, "last": 1}, "source_ports": null,
            "families": ["ipv4"], "peers": "p1"}],
        "peer_groups": {"p1": {"hosts": [], "ipv4": [], "ipv6": []}},
        "extra": true});
    assert!(validator.iter_errors(&bad).count() >= 2);
    // A group name that is not `p<number>` is rejected too.
    let mut misnamed = bad.clone();
    misnamed.as_object_mut().unwrap().remove("extra");
    misnamed["rules"][0]["destination_ports"]["first"] = 1.into();
    assert_eq!(validator.iter_errors(&misnamed).count(), 0);
    misnamed["peer_groups"] = serde_json::json!({"agents": {"hosts": [], "ipv4": [], "ipv6": []}});
    assert!(validator.iter_errors(&misnamed).count() >= 1);
}
