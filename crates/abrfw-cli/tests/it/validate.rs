//! Every validator the suite has, over a whole compiled tree at once: `nft -c -f` and
//! `iptables-restore --test` / `ip6tables-restore --test` (ipsets first) in one throwaway
//! namespace per tree, the pf check (tests/it/pf/check.rs), the PowerShell parse and parameter
//! check and the netsh lint (tests/it/windows.rs). For the property and hostile-input tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::system_tests_possible;

/// What [`tree`] checked, by backend.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub nft: usize,
    pub iptables: usize,
    pub pf: usize,
    pub ps1: usize,
    pub netsh: usize,
    pub json: usize,
    pub firewalld: usize,
    pub ufw: usize,
    pub apply_sh: usize,
}

/// The meaning check of a ufw.sh (ufw itself runs it in tests/it/netns.rs): every `ufw` command
/// line adds one abrfw rule built from addresses, ports and a comment token, nothing else.
pub fn check_ufw_sh(shown: &str, text: &str) {
    for line in text.lines() {
        let Some(rule) = line.strip_prefix("\tufw allow ") else {
            continue;
        };
        let (rule, comment) = rule
            .split_once(" comment 'abrfw ")
            .unwrap_or_else(|| panic!("{shown}: a rule without an abrfw comment: {line}"));
        assert!(
            rule.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || " :./".contains(c)),
            "{shown}: unexpected characters in {line}"
        );
        let comment = comment
            .strip_suffix("' >/dev/null")
            .unwrap_or_else(|| panic!("{shown}: {line}"));
        let (generation, flow) = comment.split_once(' ').expect("generation and flow");
        assert!(
            generation.len() == 12 && generation.chars().all(|c| c.is_ascii_hexdigit()),
            "{shown}: {line}"
        );
        assert!(
            flow.chars()
                .all(|c| c.is_ascii_alphanumeric() || ":._-".contains(c)),
            "{shown}: {line}"
        );
    }
}

/// Validates a rules.json document against the published schema (docs/rules.schema.json).
pub fn check_rules_json(shown: &str, text: &str) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let path = crate::support::root().join("docs/rules.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        jsonschema::validator_for(&schema).expect("a valid schema")
    });
    let doc: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{shown}: not JSON: {e}\n{text}"));
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{shown}: {}", errors.join("\n"));
}

/// Whether the system validators (nft, iptables-restore, ipset in a user namespace) can run;
/// without them [`tree`] runs only the in-process checks (or fails under
/// ABRFW_REQUIRE_SYSTEM_TESTS=1).
pub fn system_validators() -> bool {
    system_tests_possible(
        &[
            "nft",
            "iptables-restore",
            "ip6tables-restore",
            "ipset",
            "firewall-offline-cmd",
            "unshare",
        ],
        false,
    )
}

/// Checks every file of a compiled tree (`<host>/<file>` -> text) with its backend's validator;
/// panics with the file and the validator's message on the first failure. `system` says whether
/// to run the system tools (see [`system_validators`]).
pub fn tree(label: &str, files: &BTreeMap<PathBuf, String>, system: bool) -> Checked {
    let mut checked = Checked::default();
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::new();
    for (rel, text) in files {
        let name = rel.file_name().unwrap().to_string_lossy().into_owned();
        let shown = format!("{label}/{}", rel.display());
        if name == abrfw_core::topology::MANIFEST_FILE_NAME {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{shown}: the manifest is not JSON: {e}"));
            continue;
        }
        // apply.sh, an extra file of the backend table: POSIX sh (dash parses it), and
        // shellcheck's verdict where .ci/run installed it. tests/it/rollout.rs runs it.
        if abrfw_backends::EXTRAS.iter().any(|e| e.file == name) {
            checked.apply_sh += 1;
            let file = write(dir.path(), rel, text);
            let _ = writeln!(script, "echo '== {shown}' >&2");
            let _ = writeln!(script, "sh -n {}", file.display());
            let _ = writeln!(
                script,
                "if command -v shellcheck >/dev/null; then shellcheck -s sh -S warning {}; fi",
                file.display()
            );
            continue;
        }
        // The backend that wrote the file, from the backend table.
        let Some(backend) = abrfw_backends::BACKENDS
            .iter()
            .find(|b| b.files.contains(&name.as_str()))
        else {
            panic!("{shown}: no backend writes {name}");
        };
        match (backend.name, name.as_str()) {
            (abrfw_nftables::NAME, _) => {
                checked.nft += 1;
                let file = write(dir.path(), rel, text);
                let _ = writeln!(script, "echo '== {shown}' >&2");
                if text.contains("\ntable inet abrfw {") {
                    let _ = writeln!(script, "nft -c -f {}", file.display());
                } else {
                    // A fragment goes inside the site's own table, which jumps to its chains.
                    let mut hooks = String::new();
                    for (chain, hook) in [
                        ("abrfw_in", "input"),
                        ("abrfw_out", "output"),
                        ("abrfw_fwd", "forward"),
                    ] {
                        if text.contains(&format!("chain {chain} {{")) {
                            let _ = writeln!(
                                hooks,
                                "\tchain {hook} {{ type filter hook {hook} priority filter; policy drop; jump {chain}; }}"
                            );
                        }
                    }
                    let wrapper = file.with_extension("wrapper.nft");
                    std::fs::write(
                        &wrapper,
                        format!(
                            "table inet filter {{\n\tinclude \"{}\"\n{hooks}}}\n",
                            file.display()
                        ),
                    )
                    .unwrap();
                    let _ = writeln!(script, "nft -c -f {}", wrapper.display());
                }
            }
            (abrfw_iptables::NAME, abrfw_iptables::IPSET_FILE_NAME) => {}
            (abrfw_iptables::NAME, _) => {
                checked.iptables += 1;
                let file = write(dir.path(), rel, text);
                let sets = rel.with_file_name(abrfw_iptables::IPSET_FILE_NAME);
                let tool = if name == abrfw_iptables::IPTABLES_FILE_NAME {
                    "iptables-restore"
                } else {
                    "ip6tables-restore"
                };
                let _ = writeln!(script, "echo '== {shown}' >&2");
                if files.contains_key(&sets) {
                    let sets = write(dir.path(), &sets, sets_text(files, &sets));
                    let _ = writeln!(script, "ipset restore -! < {}", sets.display());
                }
                let _ = writeln!(script, "{tool} --test < {}", file.display());
                let _ = writeln!(script, "ipset destroy");
            }
            (abrfw_pf::NAME, _) => {
                checked.pf += 1;
                // A fragment for a host that takes part in no flow holds no rule, which pfctl
                // loads as an empty anchor; anything else must parse without a warning.
                if text.contains("policy fragment") {
                    match crate::pf::check::check(text, crate::pf::check::Mode::Anchor) {
                        Ok(report) => assert!(
                            report.warnings.is_empty(),
                            "{shown}: {:?}\n{text}",
                            report.warnings
                        ),
                        Err(errors) => panic!("{shown}: pf syntax errors {errors:?}\n{text}"),
                    }
                } else {
                    crate::pf::assert_clean_anchor(&shown, text);
                }
            }
            (abrfw_windows::powershell::NAME, _) => {
                checked.ps1 += 1;
                crate::windows::check_firewall_ps1(&shown, text);
            }
            (abrfw_windows::netsh::NAME, _) => {
                checked.netsh += 1;
                crate::windows::check_netsh_cmd(&shown, text);
            }
            (abrfw_json::NAME, _) => {
                checked.json += 1;
                check_rules_json(&shown, text);
            }
            (abrfw_firewalld::NAME, _) => {
                checked.firewalld += 1;
                let file = write(dir.path(), rel, text);
                // The script itself runs firewall-offline-cmd --check-config on a scratch
                // configuration directory and fails on any complaint; then both policies
                // must load.
                let _ = writeln!(script, "echo '== {shown}' >&2");
                let _ = writeln!(
                    script,
                    "d=$(mktemp -d); cp /etc/firewalld/firewalld.conf $d/; ABRFW_FIREWALLD_DIR=$d sh {f} >/dev/null; \
                     firewall-offline-cmd --system-config $d --info-policy=abrfw-in >/dev/null; \
                     firewall-offline-cmd --system-config $d --info-policy=abrfw-out >/dev/null; rm -rf $d",
                    f = file.display()
                );
            }
            (abrfw_ufw::NAME, _) => {
                checked.ufw += 1;
                check_ufw_sh(&shown, text);
                let file = write(dir.path(), rel, text);
                let _ = writeln!(script, "echo '== {shown}' >&2");
                let _ = writeln!(script, "sh -n {}", file.display());
            }
            (other, _) => panic!("{shown}: no validator for the {other} backend"),
        }
    }
    if system && !script.is_empty() {
        let out = Command::new("unshare")
            .args(["-Urn", "sh", "-ec", &script])
            .output()
            .expect("unshare");
        assert!(
            out.status.success(),
            "{label}: a system validator failed (the last '==' line names the file):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    checked
}

fn sets_text<'a>(files: &'a BTreeMap<PathBuf, String>, rel: &Path) -> &'a str {
    files.get(rel).map_or("", String::as_str)
}

/// The backends [`tree`] has a validator for; a test checks it is the whole table.
pub const VALIDATED: [&str; 8] = [
    abrfw_firewalld::NAME,
    abrfw_ufw::NAME,
    abrfw_nftables::NAME,
    abrfw_iptables::NAME,
    abrfw_windows::netsh::NAME,
    abrfw_windows::powershell::NAME,
    abrfw_pf::NAME,
    abrfw_json::NAME,
];

#[test]
fn every_backend_of_the_table_has_a_validator() {
    for b in &abrfw_backends::BACKENDS {
        assert!(
            VALIDATED.contains(&b.name),
            "tests/it/validate.rs has no validator for {}",
            b.name
        );
    }
}

fn write(dir: &Path, rel: &Path, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}
