//! Windows backends: no Windows here, so every generated script is checked by a parser instead.
//!
//! - `firewall.ps1`: parsed with tree-sitter-powershell (no ERROR or MISSING node), then every
//!   command is checked against the documented parameters of its cmdlet and their value forms
//!   (MicrosoftDocs windows-powershell-docs, netsecurity/*.md).
//! - `netsh.cmd`: a structural lint that tokenizes each line as cmd.exe and netsh do and checks
//!   it against the `netsh advfirewall firewall` / `netsh firewall` grammar (Netsh AdvFirewall
//!   Firewall Commands, Windows Server 2008 R2 docs; KB947709) and cmd's limits.
//! - Hostile text from a topology lands in exactly one quoted string in both scripts.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use abrfw_core::ipnet::IpNet;
use pretty_assertions::assert_eq;
use tree_sitter::{Node, Parser, Tree};

use crate::golden::compile_to_tree;
use crate::support::{fixture, stdout_ok, topologies};

/// Every (topology, host, file) the Windows backends wrote for the fixture topologies.
fn windows_files(file: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, path) in topologies() {
        for (rel, text) in compile_to_tree(&path) {
            if rel.file_name().is_some_and(|f| f == file) {
                out.push((format!("{name}/{}", rel.display()), text));
            }
        }
    }
    assert!(!out.is_empty(), "no {file} was generated");
    out
}

// ---------------------------------------------------------------------------------------------
// PowerShell

fn parse_ps(text: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("PowerShell grammar");
    parser.parse(text, None).expect("parse")
}

/// The script without its byte-order mark, which every firewall.ps1 must start with.
fn ps_body(file: &str, text: &str) -> String {
    assert!(
        text.starts_with('\u{feff}'),
        "{file}: no UTF-8 byte-order mark"
    );
    let body = &text['\u{feff}'.len_utf8()..];
    assert!(
        body.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
        "{file}: every line must end in CRLF"
    );
    body.to_owned()
}

fn walk<'t>(node: Node<'t>, out: &mut Vec<Node<'t>>) {
    out.push(node);
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        walk(child, out);
    }
}

fn nodes(tree: &Tree) -> Vec<Node<'_>> {
    let mut all = Vec::new();
    walk(tree.root_node(), &mut all);
    all
}

fn syntax_errors(tree: &Tree, src: &str) -> Vec<String> {
    nodes(tree)
        .into_iter()
        .filter(|n| n.is_error() || n.is_missing())
        .map(|n| {
            let p = n.start_position();
            format!(
                "{}:{}: {} {:?}",
                p.row + 1,
                p.column + 1,
                if n.is_missing() { "MISSING" } else { "ERROR" },
                &src[n.byte_range()]
            )
        })
        .collect()
}

/// One argument of a command, as far as the checks care.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `'text'`, decoded.
    Str(String),
    /// `@('a', 'b')`, decoded.
    List(Vec<String>),
    /// A bare word (`SilentlyContinue`).
    Bare(String),
    /// `{ ... }`.
    Block,
    /// `(...)`, `$var`, `$a.b`: computed at run time.
    Expr,
}

/// Decodes a verbatim string node `'...'`: doubled single quotes (and U+2018..U+201B) are one.
fn verbatim(src: &str) -> String {
    let inner = src
        .strip_prefix(['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'])
        .and_then(|s| s.strip_suffix(['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}']))
        .unwrap_or_else(|| panic!("not a verbatim string: {src}"));
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            let next = chars.next();
            assert!(
                next.is_some_and(|n| matches!(
                    n,
                    '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}'
                )),
                "lone single quote inside {src}"
            );
        }
    }
    out
}

/// The verbatim strings below `node`, in order; fails on any other kind of string.
fn strings_in(node: Node<'_>, src: &str) -> Vec<String> {
    let mut all = Vec::new();
    walk(node, &mut all);
    all.into_iter()
        .filter(|n| n.kind() == "string_literal")
        .map(|n| {
            let child = n.named_child(0).expect("string content");
            assert_eq!(
                child.kind(),
                "verbatim_string_characters",
                "only single-quoted strings: {}",
                &src[n.byte_range()]
            );
            verbatim(&src[child.byte_range()])
        })
        .collect()
}

fn arg(node: Node<'_>, src: &str) -> Arg {
    match node.kind() {
        "generic_token" => Arg::Bare(src[node.byte_range()].to_owned()),
        "array_literal_expression" => {
            let mut cursor = node.walk();
            let items: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
            if items.len() != 1 {
                return Arg::List(strings_in(node, src));
            }
            let inner = items[0].named_child(0).expect("unary content");
            match inner.kind() {
                "string_literal" => Arg::Str(strings_in(inner, src).remove(0)),
                "array_expression" => Arg::List(strings_in(inner, src)),
                "script_block_expression" => Arg::Block,
                "parenthesized_expression" | "variable" | "member_access" => Arg::Expr,
                "integer_literal" => Arg::Bare(src[inner.byte_range()].to_owned()),
                other => panic!("unexpected argument {other}: {}", &src[node.byte_range()]),
            }
        }
        other => panic!("unexpected argument {other}: {}", &src[node.byte_range()]),
    }
}

/// A command: its name, its `-Parameter value` pairs (None for a switch) and positional args.
#[derive(Debug)]
struct Call {
    name: String,
    line: usize,
    params: Vec<(String, Option<Arg>)>,
    positional: Vec<Arg>,
    node_kinds: Vec<&'static str>,
    strings: usize,
    /// The command's source text.
    text: String,
}

fn calls(tree: &Tree, src: &str) -> Vec<Call> {
    let mut out = Vec::new();
    for node in nodes(tree) {
        if node.kind() != "command" {
            continue;
        }
        let name_node = node.child_by_field_name("command_name").expect("name");
        if name_node.kind() != "command_name" {
            // `& $script`: runs the generated netsh.cmd; nothing to check here.
            continue;
        }
        let mut call = Call {
            name: src[name_node.byte_range()].to_owned(),
            line: node.start_position().row + 1,
            params: Vec::new(),
            positional: Vec::new(),
            node_kinds: Vec::new(),
            strings: 0,
            text: src[node.byte_range()].to_owned(),
        };
        let mut all = Vec::new();
        walk(node, &mut all);
        call.node_kinds = all.iter().map(|n| n.kind()).collect();
        call.strings = all.iter().filter(|n| n.kind() == "string_literal").count();
        if let Some(elements) = node.child_by_field_name("command_elements") {
            let mut cursor = elements.walk();
            let items: Vec<Node<'_>> = elements
                .named_children(&mut cursor)
                .filter(|n| n.kind() != "command_argument_sep")
                .collect();
            let mut i = 0;
            while i < items.len() {
                let item = items[i];
                if item.kind() == "command_parameter" {
                    let pname = src[item.byte_range()].trim_start_matches('-').to_owned();
                    let value = items
                        .get(i + 1)
                        .filter(|n| n.kind() != "command_parameter")
                        .map(|n| arg(*n, src));
                    i += if value.is_some() { 2 } else { 1 };
                    call.params.push((pname, value));
                } else {
                    call.positional.push(arg(item, src));
                    i += 1;
                }
            }
        }
        out.push(call);
    }
    out
}

/// What a parameter accepts, per the cmdlet documentation.
#[derive(Clone, Copy)]
enum Form {
    Switch,
    /// One string from a fixed set (case-insensitive, as PowerShell binds enums).
    OneOf(&'static [&'static str]),
    /// One string or a list, each passing the check.
    Each(fn(&str) -> Result<(), String>),
    /// A bare word from a fixed set (`-ErrorAction SilentlyContinue`).
    BareOneOf(&'static [&'static str]),
    /// A run-time value: `(expr)` or `$var`.
    Expr,
    /// One string from a fixed set, or a run-time value read back from the profile settings
    /// the script saved itself (`-Undo`).
    OneOfOrSaved(&'static [&'static str]),
    /// [`Form::Each`], or a run-time value read back from the saved profile settings.
    EachOrSaved(fn(&str) -> Result<(), String>),
    /// A bare word or a run-time value: the arguments of an external program (`netsh.exe`).
    Word,
}

fn port_value(v: &str) -> Result<(), String> {
    if v.eq_ignore_ascii_case("Any") {
        return Ok(());
    }
    let (a, b) = v.split_once('-').unwrap_or((v, v));
    let a: u16 = a.parse().map_err(|_| format!("bad port {v}"))?;
    let b: u16 = b.parse().map_err(|_| format!("bad port {v}"))?;
    if a == 0 || a > b {
        return Err(format!("bad port range {v}"));
    }
    Ok(())
}

/// `1.2.3.4`, `fe80::1`, `1.2.3.0/24` (host bits clear), `a-b` ranges, or a documented keyword.
fn address_value(v: &str) -> Result<(), String> {
    const KEYWORDS: &[&str] = &[
        "Any",
        "LocalSubnet",
        "DNS",
        "DHCP",
        "WINS",
        "DefaultGateway",
        "Internet",
        "Intranet",
        "IntranetRemoteAccess",
        "PlayToDevice",
        "CaptivePortal",
    ];
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(v)) {
        return Ok(());
    }
    if v.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if let Ok(net) = v.parse::<IpNet>() {
        return if net.trunc() == net {
            Ok(())
        } else {
            Err(format!("{v} has host bits set"))
        };
    }
    if let Some((a, b)) = v.split_once('-')
        && let (Ok(a), Ok(b)) = (a.parse::<IpAddr>(), b.parse::<IpAddr>())
        && a.is_ipv4() == b.is_ipv4()
        && a <= b
    {
        return Ok(());
    }
    Err(format!("not an address: {v:?}"))
}

/// A Windows rule name: not `all`, no `|`, and abrfw's prefix.
fn rule_name(v: &str) -> Result<(), String> {
    if v.is_empty() || v.eq_ignore_ascii_case("all") || v.contains('|') || v.len() > 10_000 {
        return Err(format!("invalid rule name {v:?}"));
    }
    if !v.starts_with("abrfw:") {
        return Err(format!("rule name without the abrfw: prefix: {v:?}"));
    }
    Ok(())
}

fn description_value(v: &str) -> Result<(), String> {
    if v.contains('|') || v.chars().any(char::is_control) || v.chars().count() > 10_000 {
        return Err(format!("invalid description {v:?}"));
    }
    Ok(())
}

fn group_value(v: &str) -> Result<(), String> {
    if v == "abrfw" {
        Ok(())
    } else {
        Err(format!("group {v:?} is not abrfw"))
    }
}

const ERROR_ACTIONS: &[&str] = &["SilentlyContinue", "Stop", "Continue", "Ignore", "Inquire"];

/// The cmdlets the scripts may call, with every documented parameter they use and its form;
/// `positional` is the form of positional arguments, if the cmdlet takes any.
/// A cmdlet's allowed `-Parameter`s with their forms, and the form of positional arguments.
type Signature = (Vec<(&'static str, Form)>, Option<Form>);

fn cmdlets() -> BTreeMap<&'static str, Signature> {
    use Form::*;
    let mut m = BTreeMap::new();
    m.insert(
        "New-NetFirewallRule",
        (
            vec![
                ("Name", Each(rule_name)),
                ("DisplayName", Each(rule_name)),
                ("Group", Each(group_value)),
                ("Description", Each(description_value)),
                ("Direction", OneOf(&["Inbound", "Outbound"])),
                ("Action", OneOf(&["Allow", "Block", "NotConfigured"])),
                ("Protocol", OneOf(&["TCP", "UDP"])),
                ("LocalPort", Each(port_value)),
                ("RemotePort", Each(port_value)),
                ("RemoteAddress", Each(address_value)),
                ("Profile", OneOf(&["Any", "Domain", "Private", "Public"])),
                ("Enabled", OneOf(&["True", "False"])),
            ],
            None,
        ),
    );
    m.insert(
        "Get-NetFirewallRule",
        (
            vec![
                ("ErrorAction", BareOneOf(ERROR_ACTIONS)),
                ("Group", Each(group_value)),
            ],
            None,
        ),
    );
    m.insert("Get-NetFirewallProfile", (vec![], None));
    m.insert("Get-NetFirewallPortFilter", (vec![], None));
    m.insert("Get-NetFirewallAddressFilter", (vec![], None));
    m.insert(
        "Sort-Object",
        (vec![("Property", BareOneOf(&["Name"]))], None),
    );
    m.insert("ForEach-Object", (vec![], Some(Form::Expr)));
    m.insert(
        "ConvertTo-Json",
        (
            vec![
                ("InputObject", Expr),
                ("Depth", BareOneOf(&["5"])),
                ("Compress", Switch),
            ],
            None,
        ),
    );
    m.insert("ConvertFrom-Json", (vec![("InputObject", Expr)], None));
    m.insert(
        "Get-Content",
        (vec![("Raw", Switch), ("LiteralPath", Expr)], None),
    );
    m.insert(
        "Set-Content",
        (vec![("LiteralPath", Expr), ("Value", Expr)], None),
    );
    m.insert(
        "Remove-Item",
        (
            vec![
                ("LiteralPath", Expr),
                ("ErrorAction", BareOneOf(ERROR_ACTIONS)),
            ],
            None,
        ),
    );
    m.insert(
        "New-Item",
        (
            vec![
                ("ItemType", BareOneOf(&["Directory"])),
                ("Force", Switch),
                ("Path", Expr),
            ],
            None,
        ),
    );
    // The rollback task (ScheduledTasks module, Windows 8 / Server 2012 and later).
    const TASK: &[&str] = &[abrfw_windows::mapping::ROLLBACK_TASK];
    m.insert(
        "Get-ScheduledTask",
        (
            vec![
                ("TaskName", OneOf(TASK)),
                ("ErrorAction", BareOneOf(ERROR_ACTIONS)),
            ],
            None,
        ),
    );
    m.insert(
        "Unregister-ScheduledTask",
        (
            vec![
                ("TaskName", OneOf(TASK)),
                ("Confirm", Expr),
                ("ErrorAction", BareOneOf(ERROR_ACTIONS)),
            ],
            None,
        ),
    );
    m.insert(
        "New-ScheduledTaskAction",
        (
            vec![
                ("Execute", OneOf(&["netsh.exe", "schtasks.exe"])),
                ("Argument", Expr),
            ],
            None,
        ),
    );
    m.insert(
        "New-ScheduledTaskTrigger",
        (
            vec![("Once", Switch), ("At", Expr), ("AtStartup", Switch)],
            None,
        ),
    );
    m.insert(
        "New-ScheduledTaskSettingsSet",
        (vec![("StartWhenAvailable", Switch)], None),
    );
    m.insert(
        "Register-ScheduledTask",
        (
            vec![
                ("TaskName", OneOf(TASK)),
                ("Action", Expr),
                ("Trigger", Expr),
                ("User", OneOf(&["NT AUTHORITY\\SYSTEM"])),
                ("RunLevel", OneOf(&["Highest"])),
                ("Settings", Expr),
                ("Force", Switch),
            ],
            None,
        ),
    );
    // Only `netsh.exe advfirewall export $policyFile`; the_rollback_task_imports_the_export
    // checks the words.
    m.insert("netsh.exe", (vec![], Some(Form::Word)));
    m.insert("Rename-NetFirewallRule", (vec![("NewName", Expr)], None));
    m.insert("Remove-NetFirewallRule", (vec![], None));
    m.insert(
        "Set-NetFirewallProfile",
        (
            vec![
                ("All", Switch),
                // -Undo: the profile named in the saved settings.
                ("Name", Expr),
                ("Enabled", OneOfOrSaved(&["True", "False"])),
                (
                    "DefaultInboundAction",
                    OneOfOrSaved(&["Block", "Allow", "NotConfigured"]),
                ),
                (
                    "DefaultOutboundAction",
                    OneOfOrSaved(&["Block", "Allow", "NotConfigured"]),
                ),
                // Set-NetFirewallProfile: -LogBlocked GpoBoolean, -LogMaxSizeKilobytes UInt64
                // (1 to 32767), -LogFileName String.
                (
                    "LogBlocked",
                    OneOfOrSaved(&["True", "False", "NotConfigured"]),
                ),
                (
                    "LogMaxSizeKilobytes",
                    EachOrSaved(|v| match v.parse::<u64>() {
                        Ok(1..=32767) => Ok(()),
                        _ => Err(format!("bad log size {v}")),
                    }),
                ),
                (
                    "LogFileName",
                    EachOrSaved(|v| {
                        if v.ends_with(".log") {
                            Ok(())
                        } else {
                            Err(format!("log file {v} is not a .log file"))
                        }
                    }),
                ),
            ],
            None,
        ),
    );
    m.insert("Where-Object", (vec![], Some(Form::Expr)));
    m.insert("Out-Null", (vec![], None));
    m.insert("Get-Date", (vec![], None));
    m.insert("Write-Output", (vec![], Some(Form::Expr)));
    m.insert("Write-Warning", (vec![], Some(Form::Expr)));
    m.insert("Join-Path", (vec![], Some(Form::Expr)));
    m.insert("Split-Path", (vec![("Parent", Switch)], Some(Form::Expr)));
    m.insert("Test-Path", (vec![("LiteralPath", Expr)], None));
    m
}

fn check_form(form: Form, value: Option<&Arg>) -> Result<(), String> {
    match (form, value) {
        (Form::Switch, None) => Ok(()),
        (Form::OneOf(set), Some(Arg::Str(s))) if set.iter().any(|x| x.eq_ignore_ascii_case(s)) => {
            Ok(())
        }
        (Form::BareOneOf(set), Some(Arg::Bare(s))) if set.iter().any(|x| x == s) => Ok(()),
        (Form::Each(check), Some(Arg::Str(s))) => check(s),
        (Form::Each(check), Some(Arg::List(items))) if !items.is_empty() => {
            items.iter().try_for_each(|s| check(s))
        }
        // A run-time value: a string, a block or an expression all bind.
        (Form::Expr, Some(Arg::Expr | Arg::Block | Arg::Str(_))) => Ok(()),
        (Form::OneOfOrSaved(_), Some(Arg::Expr)) => Ok(()),
        (Form::OneOfOrSaved(set), Some(Arg::Str(s)))
            if set.iter().any(|x| x.eq_ignore_ascii_case(s)) =>
        {
            Ok(())
        }
        (Form::EachOrSaved(_), Some(Arg::Expr)) => Ok(()),
        (Form::EachOrSaved(check), Some(Arg::Str(s))) => check(s),
        (Form::Word, Some(Arg::Bare(_) | Arg::Expr)) => Ok(()),
        (_, v) => Err(format!("value {v:?} does not fit")),
    }
}

fn check_calls(file: &str, calls: &[Call]) -> Result<(), String> {
    let table = cmdlets();
    for call in calls {
        let at = format!("{file}:{}: {}", call.line, call.name);
        let Some((params, positional)) = table.get(call.name.as_str()) else {
            return Err(format!("{at} is not an allowed cmdlet"));
        };
        let mut seen = Vec::new();
        let mut positionals: Vec<&Arg> = call.positional.iter().collect();
        for (pname, value) in &call.params {
            let Some((_, form)) = params.iter().find(|(p, _)| p.eq_ignore_ascii_case(pname)) else {
                return Err(format!("{at} has no parameter -{pname} in the allow-list"));
            };
            if seen.contains(pname) {
                return Err(format!("{at}: -{pname} given twice"));
            }
            seen.push(pname.clone());
            // A switch takes no value: what follows it is a positional argument.
            let value = match (form, value) {
                (Form::Switch, Some(v)) => {
                    positionals.push(v);
                    None
                }
                (_, v) => v.as_ref(),
            };
            check_form(*form, value).map_err(|why| format!("{at} -{pname}: {why}"))?;
        }
        match positional {
            None if !positionals.is_empty() => {
                return Err(format!(
                    "{at} takes no positional argument here: {positionals:?}"
                ));
            }
            None => {}
            Some(form) => {
                for a in positionals {
                    check_form(*form, Some(a)).map_err(|why| format!("{at} positional: {why}"))?;
                }
            }
        }
        if call.name == "New-NetFirewallRule" {
            for required in [
                "Name",
                "DisplayName",
                "Group",
                "Description",
                "Direction",
                "Action",
                "Protocol",
                "RemoteAddress",
            ] {
                if !seen.iter().any(|p| p == required) {
                    return Err(format!("{at} without -{required}"));
                }
            }
            // Every value is a literal: no variable, sub-expression or expandable string can
            // reach the firewall from a rule's text.
            for kind in [
                "variable",
                "sub_expression",
                "expandable_string_literal",
                "expandable_here_string_literal",
            ] {
                if call.node_kinds.contains(&kind) {
                    return Err(format!("{at} contains a {kind}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn every_firewall_ps1_parses_and_calls_documented_parameters() {
    for (file, text) in windows_files("firewall.ps1") {
        let body = ps_body(&file, &text);
        let tree = parse_ps(&body);
        let errors = syntax_errors(&tree, &body);
        assert!(errors.is_empty(), "{file}: {errors:#?}");
        let calls = calls(&tree, &body);
        check_calls(&file, &calls).unwrap();
        let names: Vec<&str> = calls
            .iter()
            .filter(|c| c.name == "New-NetFirewallRule")
            .filter_map(|c| match c.params.iter().find(|(p, _)| p == "Name") {
                Some((_, Some(Arg::Str(s)))) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{file}: rule names repeat");
    }
}

#[test]
fn the_powershell_checks_catch_broken_scripts() {
    let good = "New-NetFirewallRule -Name 'abrfw:h:in:x:1' -DisplayName 'abrfw:h:in:x:1' \
                -Group 'abrfw' -Description 'd' -Direction 'Inbound' -Action 'Allow' \
                -Protocol 'TCP' -LocalPort '9876' -RemotePort 'Any' -RemoteAddress @('10.0.0.1') \
                -Profile 'Any' -Enabled 'True' | Out-Null\r\n";
    let tree = parse_ps(good);
    assert!(syntax_errors(&tree, good).is_empty());
    check_calls("good", &calls(&tree, good)).unwrap();

    // An unescaped quote in a description breaks the parse.
    let broken = good.replace("'d'", "'it's'");
    assert!(!syntax_errors(&parse_ps(&broken), &broken).is_empty());
    for bad in [
        good.replace("-Direction 'Inbound'", "-Direction 'In'"),
        good.replace("-LocalPort '9876'", "-LocalPort '70000'"),
        good.replace("'10.0.0.1'", "'10.0.0.1/8'"),
        good.replace("-Enabled 'True'", "-Enabled 'yes'"),
        good.replace("-Profile", "-Profiles"),
        good.replace("-Name 'abrfw:h:in:x:1'", "-Name 'all'"),
        good.replace("-Group 'abrfw'", "-Group $group"),
    ] {
        let tree = parse_ps(&bad);
        let calls = calls(&tree, &bad);
        assert!(check_calls("bad", &calls).is_err(), "accepted: {bad}");
    }
    // A double-quoted (expanding) string is refused while the arguments are read.
    let expanding = good.replace("-Description 'd'", "-Description \"$(calc)\"");
    let tree = parse_ps(&expanding);
    let result = std::panic::catch_unwind(|| calls(&tree, &expanding).len());
    assert!(result.is_err(), "accepted: {expanding}");
}

// ---------------------------------------------------------------------------------------------
// netsh / cmd

/// A netsh command line split as cmd.exe, then the program's argument parser, would split it:
/// the arguments before the first unquoted operator, and the operators and words after it.
#[derive(Debug)]
struct CmdLine {
    args: Vec<String>,
    tail: String,
}

/// Tokenizes `line` (already known to hold no lone `%`): `%%` is one `%` in a batch file;
/// spaces outside quotes separate arguments; `"` toggles quoting and is dropped; backslashes
/// before a quote follow CommandLineToArgvW (2n+1 backslashes make a literal quote, which the
/// lint rejects, since cmd would have ended its own quoting there).
fn tokenize(line: &str) -> Result<CmdLine, String> {
    let line = line.replace("%%", "%");
    let chars: Vec<char> = line.chars().collect();
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let mut n = 0;
            while i + n < chars.len() && chars[i + n] == '\\' {
                n += 1;
            }
            if chars.get(i + n) == Some(&'"') {
                if n % 2 == 1 {
                    return Err("a backslash escapes a quote".into());
                }
                current.push_str(&"\\".repeat(n / 2));
            } else {
                current.push_str(&"\\".repeat(n));
            }
            in_arg = true;
            i += n;
            continue;
        }
        match c {
            '"' => {
                quoted = !quoted;
                in_arg = true;
            }
            ' ' | '\t' if !quoted => {
                if in_arg {
                    args.push(std::mem::take(&mut current));
                    in_arg = false;
                }
            }
            '|' | '&' | '<' | '>' | '^' | '(' | ')' if !quoted => {
                if in_arg {
                    args.push(std::mem::take(&mut current));
                }
                let tail: String = chars[i..].iter().collect();
                return Ok(CmdLine { args, tail });
            }
            c => {
                current.push(c);
                in_arg = true;
            }
        }
        i += 1;
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if in_arg {
        args.push(current);
    }
    Ok(CmdLine {
        args,
        tail: String::new(),
    })
}

fn ports_value(v: &str) -> Result<(), String> {
    if v.eq_ignore_ascii_case("any") {
        return Ok(());
    }
    v.split(',').try_for_each(port_value)
}

fn remoteip_value(v: &str) -> Result<(), String> {
    const KEYWORDS: &[&str] = &[
        "any",
        "localsubnet",
        "dns",
        "dhcp",
        "wins",
        "defaultgateway",
    ];
    if v.eq_ignore_ascii_case("any") || v == "*" {
        return Ok(());
    }
    if v.is_empty() || v.contains(' ') {
        return Err(format!("bad remoteip {v:?}"));
    }
    for item in v.split(',') {
        if item.eq_ignore_ascii_case("any") || item == "*" {
            return Err("any must be the only remoteip token".into());
        }
        if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(item)) {
            continue;
        }
        address_value(item).map_err(|e| format!("remoteip: {e}"))?;
    }
    Ok(())
}

fn one_of(v: &str, set: &[&str]) -> Result<(), String> {
    if set.iter().any(|s| s.eq_ignore_ascii_case(v)) {
        Ok(())
    } else {
        Err(format!("{v:?} is not one of {set:?}"))
    }
}

fn list_of(v: &str, set: &[&str]) -> Result<(), String> {
    v.split(',').try_for_each(|x| one_of(x, set))
}

fn netsh_name(v: &str) -> Result<(), String> {
    if v.is_empty() || v.eq_ignore_ascii_case("all") || v.contains('|') {
        return Err(format!("invalid rule name {v:?}"));
    }
    Ok(())
}

/// `tag=value` pairs after the fixed words; each tag at most once and known to the grammar.
fn tag_values(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut tags = BTreeMap::new();
    for a in args {
        let Some((tag, value)) = a.split_once('=') else {
            return Err(format!("{a:?} is not tag=value"));
        };
        let tag = tag.to_ascii_lowercase();
        if tags.insert(tag.clone(), value.to_owned()).is_some() {
            return Err(format!("{tag}= given twice"));
        }
    }
    Ok(tags)
}

type Check = fn(&str) -> Result<(), String>;

fn check_tags(
    tags: &BTreeMap<String, String>,
    grammar: &[(&str, Check)],
    required: &[&str],
) -> Result<(), String> {
    for r in required {
        if !tags.contains_key(*r) {
            return Err(format!("{r}= missing"));
        }
    }
    for (tag, value) in tags {
        let Some((_, check)) = grammar.iter().find(|(t, _)| t == tag) else {
            return Err(format!("unknown tag {tag}="));
        };
        check(value).map_err(|e| format!("{tag}=: {e}"))?;
    }
    Ok(())
}

/// `netsh advfirewall firewall add rule` (Netsh AdvFirewall Firewall Commands).
fn check_add_rule(tags: &BTreeMap<String, String>) -> Result<(), String> {
    let grammar: &[(&str, Check)] = &[
        ("name", netsh_name),
        ("dir", |v| one_of(v, &["in", "out"])),
        ("action", |v| one_of(v, &["allow", "block", "bypass"])),
        ("protocol", |v| {
            if v.parse::<u8>().is_ok() {
                return Ok(());
            }
            one_of(v, &["tcp", "udp", "icmpv4", "icmpv6", "any"])
        }),
        ("localport", ports_value),
        ("remoteport", ports_value),
        ("remoteip", remoteip_value),
        ("localip", remoteip_value),
        ("profile", |v| {
            list_of(v, &["public", "private", "domain", "any"])
        }),
        ("enable", |v| one_of(v, &["yes", "no"])),
        ("description", |v| {
            if v.contains('|') {
                Err("| in a description".into())
            } else {
                Ok(())
            }
        }),
        ("interfacetype", |v| {
            list_of(v, &["wireless", "lan", "ras", "any"])
        }),
        ("edge", |v| {
            one_of(v, &["yes", "deferapp", "deferuser", "no"])
        }),
    ];
    check_tags(tags, grammar, &["name", "dir", "action"])?;
    let has_ports = tags.contains_key("localport") || tags.contains_key("remoteport");
    let tcp_udp = tags
        .get("protocol")
        .is_some_and(|p| p.eq_ignore_ascii_case("tcp") || p.eq_ignore_ascii_case("udp"));
    if has_ports && !tcp_udp {
        return Err("localport/remoteport need protocol=tcp or udp".into());
    }
    if tags.get("edge").is_some() && tags.get("dir").is_some_and(|d| d != "in") {
        return Err("edge= only applies to dir=in".into());
    }
    Ok(())
}

/// `netsh firewall add portopening` (Windows XP SP2 / Server 2003 SP1).
fn check_add_portopening(tags: &BTreeMap<String, String>) -> Result<(), String> {
    let grammar: &[(&str, Check)] = &[
        ("protocol", |v| one_of(v, &["TCP", "UDP", "ALL"])),
        ("port", |v| match v.parse::<u16>() {
            Ok(p) if p > 0 => Ok(()),
            _ => Err(format!("bad port {v}")),
        }),
        ("name", netsh_name),
        ("mode", |v| one_of(v, &["ENABLE", "DISABLE"])),
        ("scope", |v| one_of(v, &["ALL", "SUBNET", "CUSTOM"])),
        ("addresses", |v| {
            v.split(',').try_for_each(|a| match a.parse::<IpNet>() {
                Ok(IpNet::V4(n)) if n.trunc() == n => Ok(()),
                _ => match a.parse::<IpAddr>() {
                    Ok(IpAddr::V4(_)) => Ok(()),
                    _ => Err(format!("not an IPv4 scope address: {a}")),
                },
            })
        }),
        ("profile", |v| {
            one_of(v, &["CURRENT", "DOMAIN", "STANDARD", "ALL"])
        }),
    ];
    check_tags(tags, grammar, &["protocol", "port", "name"])?;
    let custom = tags
        .get("scope")
        .is_some_and(|s| s.eq_ignore_ascii_case("CUSTOM"));
    if custom != tags.contains_key("addresses") {
        return Err("addresses= goes with scope=CUSTOM, and only with it".into());
    }
    Ok(())
}

/// The lines of netsh.cmd's confirm-within, confirm, undo and timed-rollback parts, exactly as
/// generated: they hold no value from a topology (the task names, state directory and file
/// are constants of abrfw-windows), so each is checked whole, as the `for` loops are.
const CONTROL_LINES: &str = r#"set "abrfw_state=%ProgramData%\abrfw"
set "abrfw_policy=%ProgramData%\abrfw\rollback.wfw"
set "abrfw_secs="
if "%~1"=="" goto :apply
if /i "%~1"=="confirm-within" goto :confirm_within
if /i "%~1"=="confirm" goto :confirm
if /i "%~1"=="undo" goto :undo
if /i "%~1"=="__rollback-after" goto :rollback_after
echo abrfw: usage: netsh.cmd [confirm-within SECONDS ^| confirm ^| undo]>&2
set "abrfw_secs=%~2"
if not defined abrfw_secs goto :bad_seconds
for /f "delims=0123456789" %%x in ("%abrfw_secs%") do goto :bad_seconds
if %abrfw_secs% LSS 1 goto :bad_seconds
schtasks /Query /TN abrfw-rollback-boot >nul 2>&1 && (echo abrfw: an earlier confirm-within still waits for confirmation; run netsh.cmd confirm, or wait for its rollback>&2 & exit /b 1)
if not exist "%abrfw_state%" mkdir "%abrfw_state%" || (echo abrfw: cannot create the state directory; nothing was changed>&2 & exit /b 1)
del /f /q "%abrfw_policy%" >nul 2>&1
netsh advfirewall export "%abrfw_policy%" >nul || (echo abrfw: netsh advfirewall export failed; nothing was changed>&2 & exit /b 1)
copy /y "%~f0" "%abrfw_state%\netsh.cmd" >nul || (echo abrfw: cannot copy netsh.cmd into the state directory; nothing was changed>&2 & exit /b 1)
schtasks /Create /TN abrfw-rollback-boot /SC ONSTART /RU SYSTEM /RL HIGHEST /F /TR "\"%abrfw_state%\netsh.cmd\" __rollback-after 0" >nul || (echo abrfw: schtasks could not create the rollback task; nothing was changed>&2 & exit /b 1)
schtasks /Create /TN abrfw-rollback /SC ONCE /ST 00:00 /RU SYSTEM /RL HIGHEST /F /TR "\"%abrfw_state%\netsh.cmd\" __rollback-after %abrfw_secs%" >nul 2>&1 || goto :timer_failed
schtasks /Run /TN abrfw-rollback >nul || goto :timer_failed
goto :apply
schtasks /Delete /TN abrfw-rollback-boot /F >nul 2>&1
schtasks /Delete /TN abrfw-rollback /F >nul 2>&1
set /a abrfw_wait=%abrfw_secs%+1 >nul
if not "%abrfw_secs%"=="0" ping -n %abrfw_wait% 127.0.0.1 >nul
schtasks /Query /TN abrfw-rollback-boot >nul 2>&1 || exit /b 0
netsh advfirewall import "%abrfw_policy%" >nul
schtasks /Query /TN abrfw-rollback-boot >nul 2>&1 || (echo abrfw: no rollback waits for confirmation: nothing was applied with confirm-within, or its rollback already ran>&2 & exit /b 1)
schtasks /Delete /TN abrfw-rollback-boot /F >nul || (echo abrfw: could not delete the task abrfw-rollback-boot; the rollback still runs>&2 & exit /b 1)
schtasks /End /TN abrfw-rollback >nul 2>&1
for /f "tokens=1,* delims=:" %%a in ('netsh advfirewall firewall show rule name^=all ^| findstr /r /c:"^[^:]*: *abrfw:" /c:"^[^:]*: *abrfw-retired"') do for /f "tokens=*" %%n in ("%%b") do (netsh advfirewall firewall delete rule name="%%n" >nul || goto :undo_failed)
if defined abrfw_secs echo abrfw: the previous policy comes back in %abrfw_secs% seconds unless you run, from a NEW session: netsh.cmd confirm
if /i "%~1"=="confirm-within" goto :no_rollback
if /i "%~1"=="confirm" goto :no_rollback
echo abrfw: usage: netsh.cmd [undo]>&2"#;

/// Lints one line of a netsh.cmd; `labels` are the labels the file defines.
fn lint_line(line: &str, labels: &[String]) -> Result<(), String> {
    if line.chars().count() > 8191 {
        return Err("longer than cmd's 8191 characters".into());
    }
    if !line.is_ascii() {
        return Err("not ASCII (cmd reads scripts in the OEM code page)".into());
    }
    if CONTROL_LINES.lines().any(|l| l == line) {
        return Ok(());
    }
    // In a batch file every % starts an expansion unless doubled.
    let mut rest = line;
    while let Some(i) = rest.find('%') {
        if rest[i + 1..].starts_with('%') {
            rest = &rest[i + 2..];
        } else {
            return Err("a lone % would expand a variable".into());
        }
    }
    let first = line.split(' ').next().unwrap_or("");
    match first.to_ascii_lowercase().as_str() {
        "" | "rem" | "@echo" | "setlocal" => Ok(()),
        "exit" => one_of(line, &["exit /b 0", "exit /b 1"]),
        w if w.starts_with(':') => Ok(()),
        "echo" => {
            let text = line.strip_suffix(">&2").unwrap_or(line);
            if text.contains(['|', '&', '<', '>', '^', '"', '(', ')']) {
                Err("an echo line with a cmd operator".into())
            } else {
                Ok(())
            }
        }
        "net" => one_of(
            line,
            &[
                "net session >nul 2>&1 || (echo abrfw: run netsh.cmd as Administrator>&2 & exit /b 1)",
            ],
        ),
        "for" => {
            // Only the two loops over abrfw's own rules, exactly as generated.
            let retire = "for /f \"tokens=1,* delims=:\" %%a in ('netsh advfirewall firewall show rule name^=all ^| findstr /r /c:\"^[^:]*: *abrfw:\"') do for /f \"tokens=*\" %%n in (\"%%b\") do (netsh advfirewall firewall set rule name=\"%%n\" new name=\"abrfw-retired\" >nul || goto :retire_failed)";
            let legacy = "for /f \"tokens=1,2\" %%p in ('netsh firewall show portopening ^| findstr /r /c:\"^[0-9][0-9]*  *[TU][CD]P  *[^ ][^ ]*  *abrfw:\"') do netsh firewall delete portopening protocol=%%q port=%%p profile=ALL >nul 2>&1";
            one_of(line, &[retire, legacy])
        }
        "netsh" => lint_netsh(line, labels),
        other => Err(format!("unexpected command {other}")),
    }
}

fn lint_netsh(line: &str, labels: &[String]) -> Result<(), String> {
    // A quote may only wrap a whole value (`tag="..."`): one that toggles quoting inside a value
    // would expose the rest of it to cmd.
    let command = line.split(" || ").next().unwrap_or(line);
    let mut quoted = false;
    let chars: Vec<char> = command.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c != '"' {
            continue;
        }
        let opens = !quoted && i > 0 && chars[i - 1] == '=';
        let closes = quoted && chars.get(i + 1).is_none_or(|n| *n == ' ');
        if !(opens || closes) {
            return Err(format!("a quote inside a value at column {}", i + 1));
        }
        quoted = !quoted;
    }
    let CmdLine { args, tail } = tokenize(line)?;
    let tail = tail.trim();
    let ok_tail = tail.is_empty()
        || tail == ">nul"
        || tail == ">nul 2>&1"
        || tail
            .strip_prefix("|| goto :")
            .is_some_and(|l| labels.iter().any(|x| x == l));
    if !ok_tail {
        return Err(format!("unexpected operators after the command: {tail:?}"));
    }
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match lower.as_slice() {
        ["netsh", "advfirewall", "firewall", "add", "rule", ..] => {
            let tags = tag_values(&args[5..])?;
            let name = &tags.get("name").cloned().unwrap_or_default();
            if !name.starts_with("abrfw:") {
                return Err(format!("rule {name:?} is not in abrfw's namespace"));
            }
            check_add_rule(&tags)
        }
        ["netsh", "advfirewall", "firewall", "delete", "rule", ..] => {
            let tags = tag_values(&args[5..])?;
            let grammar: &[(&str, Check)] = &[
                ("name", netsh_name),
                ("dir", |v| one_of(v, &["in", "out"])),
                ("profile", |v| {
                    list_of(v, &["public", "private", "domain", "any"])
                }),
                ("protocol", |v| one_of(v, &["tcp", "udp", "any"])),
                ("localport", ports_value),
                ("remoteport", ports_value),
                ("remoteip", remoteip_value),
            ];
            check_tags(&tags, grammar, &["name"])?;
            // Deleting by name deletes every rule of that name: only abrfw's.
            let name = &tags["name"];
            if name.starts_with("abrfw:") || name == "abrfw-retired" {
                Ok(())
            } else {
                Err(format!("deletes rule {name:?} outside abrfw's namespace"))
            }
        }
        ["netsh", "advfirewall", "set", "allprofiles", "state", state] => {
            one_of(state, &["on", "off", "notconfigured"])
        }
        [
            "netsh",
            "advfirewall",
            "set",
            "allprofiles",
            "firewallpolicy",
            policy,
        ] => {
            let (inbound, outbound) = policy
                .split_once(',')
                .ok_or_else(|| format!("firewallpolicy {policy}"))?;
            one_of(
                inbound,
                &[
                    "blockinbound",
                    "blockinboundalways",
                    "allowinbound",
                    "notconfigured",
                ],
            )?;
            one_of(
                outbound,
                &["allowoutbound", "blockoutbound", "notconfigured"],
            )
        }
        // netsh advfirewall set allprofiles logging: filename <path>, maxfilesize 1-32767 (KB),
        // droppedconnections enable|disable (netsh advfirewall set /? on Windows 7 and later).
        [
            "netsh",
            "advfirewall",
            "set",
            "allprofiles",
            "logging",
            setting,
            value,
        ] => match *setting {
            "filename" => log_file(value),
            "maxfilesize" => log_size(value),
            "droppedconnections" | "allowedconnections" => {
                one_of(value, &["enable", "disable", "notconfigured"])
            }
            other => Err(format!("unknown logging setting {other}")),
        },
        ["netsh", "firewall", "set", "logging", ..] => {
            let tags = tag_values(&args[4..])?;
            let grammar: &[(&str, Check)] = &[
                ("filename", log_file),
                ("maxfilesize", log_size),
                ("droppedpackets", |v| one_of(v, &["ENABLE", "DISABLE"])),
                ("connections", |v| one_of(v, &["ENABLE", "DISABLE"])),
            ];
            check_tags(&tags, grammar, &[])
        }
        ["netsh", "firewall", "add", "portopening", ..] => {
            check_add_portopening(&tag_values(&args[4..])?)
        }
        ["netsh", "firewall", "set", "opmode", ..] => {
            let tags = tag_values(&args[4..])?;
            let grammar: &[(&str, Check)] = &[
                ("mode", |v| one_of(v, &["ENABLE", "DISABLE"])),
                ("exceptions", |v| one_of(v, &["ENABLE", "DISABLE"])),
                ("profile", |v| {
                    one_of(v, &["CURRENT", "DOMAIN", "STANDARD", "ALL"])
                }),
            ];
            check_tags(&tags, grammar, &["mode"])
        }
        _ => Err(format!("not a netsh command abrfw emits: {words:?}")),
    }
}

/// A firewall log path: `%systemroot%` (the firewall service expands it) and no character cmd
/// or netsh would read.
fn log_file(v: &str) -> Result<(), String> {
    let ok = v.to_ascii_lowercase().ends_with(".log")
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "%\\._-:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("bad log file {v}"))
    }
}

fn log_size(v: &str) -> Result<(), String> {
    match v.parse::<u32>() {
        Ok(1..=32767) => Ok(()),
        _ => Err(format!("bad log size {v} (1 to 32767 KB)")),
    }
}

fn lint_netsh_cmd(file: &str, text: &str) {
    assert!(
        text.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
        "{file}: every line must end in CRLF"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"@echo off"), "{file}");
    assert!(
        lines.contains(&"setlocal EnableExtensions DisableDelayedExpansion"),
        "{file}: delayed expansion must be off, or ! in a description would expand"
    );
    let labels: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix(':'))
        .map(str::to_owned)
        .collect();
    for (i, line) in lines.iter().enumerate() {
        if let Err(why) = lint_line(line, &labels) {
            panic!("{file}:{}: {why}\n  {line}", i + 1);
        }
    }
}

#[test]
fn every_netsh_cmd_line_follows_the_netsh_grammar() {
    for (file, text) in windows_files("netsh.cmd") {
        lint_netsh_cmd(&file, &text);
    }
}

#[test]
fn the_netsh_lint_catches_broken_lines() {
    let good = "netsh advfirewall firewall add rule name=\"abrfw:h:in:x:1\" dir=in action=allow \
                protocol=tcp localport=9876 remoteport=any remoteip=10.0.0.1,fd00::/64 \
                profile=any enable=yes description=\"x: 100%% sure\" || goto :add_failed";
    let labels = vec!["add_failed".to_owned()];
    lint_line(good, &labels).unwrap();
    for bad in [
        good.replace("100%% sure", "100% sure"),
        good.replace("description=\"x: 100%% sure\"", "description=\"a \"b\" c\""),
        good.replace("x: 100%%", "x | y"),
        good.replace("dir=in", "dir=inbound"),
        good.replace("localport=9876", "localport=0"),
        good.replace("localport=9876", "localport=9-8"),
        good.replace("protocol=tcp", "protocol=icmpv4"),
        good.replace("remoteip=10.0.0.1,fd00::/64", "remoteip=10.0.0.1, fd00::1"),
        good.replace("remoteip=10.0.0.1,fd00::/64", "remoteip=any,10.0.0.1"),
        good.replace("name=\"abrfw:h:in:x:1\"", "name=all"),
        good.replace("enable=yes", "enabled=yes"),
        good.replace(":add_failed", ":nowhere"),
        good.replace("description=\"x: 100%% sure\"", "description=\"C:\\dir\\\""),
        format!("{good} & del x"),
        format!("{good}{}", " ".repeat(8192)),
    ] {
        assert!(lint_line(&bad, &labels).is_err(), "accepted: {bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input

/// The `[[allow]]` description of fixtures/topologies/windows-policy.toml, as the TOML means it.
const HOSTILE: &str =
    "it's ‘a’ ‚b‛ \"c\" 100% %PATH% !x! a|b & c ^ d $(calc) ${x} `n @' <# #> ; C:\\dir\\";
const HOSTILE_FLOW: &str = "allow:rdp_hostile-name.1";

fn hostile_outputs() -> BTreeMap<PathBuf, String> {
    let topology = fixture("topologies/windows-policy.toml");
    let text = std::fs::read_to_string(&topology).unwrap();
    assert!(
        text.contains(
            &HOSTILE
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .to_string()
        ),
        "the fixture's description changed; update HOSTILE"
    );
    compile_to_tree(&topology)
}

#[test]
fn a_hostile_description_is_one_powershell_string() {
    let files = hostile_outputs();
    let text = &files[&PathBuf::from("win-agent/firewall.ps1")];
    let body = ps_body("win-agent/firewall.ps1", text);
    let tree = parse_ps(&body);
    assert!(syntax_errors(&tree, &body).is_empty());
    let calls = calls(&tree, &body);
    check_calls("win-agent/firewall.ps1", &calls).unwrap();
    let hostile: Vec<&Call> = calls
        .iter()
        .filter(|c| c.name == "New-NetFirewallRule")
        .filter(|c| {
            c.params.iter().any(|(p, v)| {
                p == "Name" && matches!(v, Some(Arg::Str(s)) if s.contains(HOSTILE_FLOW))
            })
        })
        .collect();
    assert_eq!(hostile.len(), 1);
    let call = hostile[0];
    // Windows refuses `|` in descriptions; everything else arrives as written.
    let expected = format!("{HOSTILE_FLOW}: {}", HOSTILE.replace('|', "/"));
    let description: Vec<&Option<Arg>> = call
        .params
        .iter()
        .filter(|(p, _)| p == "Description")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(description, [&Some(Arg::Str(expected))]);
    // Eleven single-valued parameters plus one address: the description did not split or
    // swallow a string, and no parameter appeared out of it.
    assert_eq!(call.strings, 12, "{call:#?}");
    assert_eq!(call.params.len(), 12);
    assert!(call.positional.is_empty());
}

#[test]
fn a_hostile_description_is_one_netsh_value() {
    let files = hostile_outputs();
    let text = &files[&PathBuf::from("win-agent/netsh.cmd")];
    lint_netsh_cmd("win-agent/netsh.cmd", text);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("add rule") && l.contains(HOSTILE_FLOW))
        .collect();
    assert_eq!(lines.len(), 1);
    let CmdLine { args, tail } = tokenize(lines[0]).unwrap();
    assert_eq!(tail, "|| goto :add_failed");
    let tags = tag_values(&args[5..]).unwrap();
    // cmd cannot escape `"` (it becomes `'`), Windows refuses `|` (it becomes `/`), and a cmd
    // script is ASCII (the rest becomes `?`); `%` is doubled in the file and reads back as one,
    // the trailing backslash stays a backslash.
    let expected: String = format!("{HOSTILE_FLOW}: {HOSTILE}")
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '|' => '/',
            c if !c.is_ascii() => '?',
            c => c,
        })
        .collect();
    assert_eq!(tags["description"], expected);
    assert_eq!(
        tags.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "action",
            "description",
            "dir",
            "enable",
            "localport",
            "name",
            "profile",
            "protocol",
            "remoteip",
            "remoteport"
        ]
    );
}

#[test]
fn the_legacy_host_gets_port_openings_and_a_delegating_powershell_script() {
    let files = hostile_outputs();
    let netsh = &files[&PathBuf::from("xp-agent/netsh.cmd")];
    assert!(!netsh.contains("advfirewall"));
    assert!(netsh.contains("netsh firewall add portopening protocol=TCP port=8001 "));
    let ps = &files[&PathBuf::from("xp-agent/firewall.ps1")];
    assert!(!ps.contains("New-NetFirewallRule -"));
    assert!(ps.contains("'netsh.cmd'"));
}

#[test]
fn long_peer_lists_are_split_into_rules_that_fit() {
    // 1500 agents, IPv4 and IPv6 each: the management server's outbound rules to them need
    // several chunks.
    let mut site = String::from(
        "release = \"abr-11.5\"\n[options]\npolicy = \"drop\"\n\
         [[host]]\nname = \"ams\"\nos = \"windows\"\naddresses = [\"10.0.0.10\", \"fd00::10\"]\n\
         roles = [\"management-server\"]\n",
    );
    for i in 0..1500 {
        site.push_str(&format!(
            "[[host]]\nname = \"a{i}\"\naddresses = [\"10.1.{}.{}\", \"fd00:1::{:x}:{:x}:1\"]\n\
             roles = [\"agent\"]\n",
            i / 100,
            (i % 100) * 2 + 1,
            i,
            i * 7
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    std::fs::write(&path, site).unwrap();
    let netsh = stdout_ok(&[
        "compile",
        path.to_str().unwrap(),
        "--host",
        "ams",
        "--backend",
        "netsh",
    ]);
    lint_netsh_cmd("big/ams/netsh.cmd", &netsh);
    let chunks: Vec<&str> = netsh
        .lines()
        .filter(|l| l.contains("add rule name=\"abrfw:ams:out:ms-agent:1."))
        .collect();
    assert!(chunks.len() >= 4, "{}", chunks.len());
    assert!(netsh.contains("name=\"abrfw:ams:out:ms-agent:1.1\""));
    let ps = stdout_ok(&[
        "compile",
        path.to_str().unwrap(),
        "--host",
        "ams",
        "--backend",
        "powershell",
    ]);
    let body = ps_body("big/ams/firewall.ps1", &ps);
    let tree = parse_ps(&body);
    assert!(syntax_errors(&tree, &body).is_empty());
    let calls = calls(&tree, &body);
    check_calls("big/ams/firewall.ps1", &calls).unwrap();
    for call in calls.iter().filter(|c| c.name == "New-NetFirewallRule") {
        for (p, v) in &call.params {
            if let ("RemoteAddress", Some(Arg::List(list))) = (p.as_str(), v) {
                assert!(list.len() <= 500);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// For the other test modules (property tests, hostile input)

/// The whole firewall.ps1 check: byte-order mark, CRLF, a parse without error nodes, and every
/// call with documented parameters and value forms.
pub(crate) fn check_firewall_ps1(file: &str, text: &str) {
    let body = ps_body(file, text);
    let tree = parse_ps(&body);
    let errors = syntax_errors(&tree, &body);
    assert!(errors.is_empty(), "{file}: {errors:#?}");
    if let Err(why) = check_calls(file, &calls(&tree, &body)) {
        panic!("{file}: {why}");
    }
}

/// The whole netsh.cmd lint.
pub(crate) fn check_netsh_cmd(file: &str, text: &str) {
    lint_netsh_cmd(file, text);
}

// ---------------------------------------------------------------------------------------------
// Rollback, confirm and undo: no Windows here to run them, so their meaning is checked on the
// parsed script: what the rollback imports is what the export wrote, confirm deletes the task
// the apply registered, undo removes by abrfw's group, and all of it comes before any change.

/// Text of the one call named `name` whose text contains `needle`.
fn one_call<'c>(file: &str, calls: &'c [Call], name: &str, needle: &str) -> &'c Call {
    let found: Vec<&Call> = calls
        .iter()
        .filter(|c| c.name == name && c.text.contains(needle))
        .collect();
    assert_eq!(found.len(), 1, "{file}: {name} with {needle:?}: {found:#?}");
    found[0]
}

#[test]
fn firewall_ps1_rollback_imports_the_export_and_confirm_deletes_the_same_task() {
    use abrfw_windows::mapping::{GROUP, POLICY_FILE, ROLLBACK_TASK};
    for (file, text) in windows_files("firewall.ps1") {
        if !text.contains("New-NetFirewallRule -") {
            // windows-legacy: delegates to netsh.cmd, refuses the rollback parameters.
            assert!(text.contains("-ConfirmWithin, -Confirm and -Export are not available"));
            assert!(text.contains("& $script 'undo'"));
            continue;
        }
        let body = ps_body(&file, &text);
        let tree = parse_ps(&body);
        let calls = calls(&tree, &body);
        assert!(
            body.contains(&format!(
                "$policyFile = Join-Path $state '{POLICY_FILE}'\r\n"
            )),
            "{file}"
        );
        let export = one_call(&file, &calls, "netsh.exe", "export");
        assert_eq!(
            export.text.trim(),
            "netsh.exe advfirewall export $policyFile"
        );
        let import = one_call(&file, &calls, "New-ScheduledTaskAction", "import");
        assert!(
            import.text.contains(
                "-Execute 'netsh.exe' -Argument ('advfirewall import \"' + $policyFile + '\"')"
            ),
            "{file}: {}",
            import.text
        );
        let task = format!("-TaskName '{ROLLBACK_TASK}'");
        let register = one_call(&file, &calls, "Register-ScheduledTask", &task);
        assert!(
            register
                .text
                .contains("-Action $actions -Trigger $triggers")
        );
        assert!(register.text.contains("-User 'NT AUTHORITY\\SYSTEM'"));
        // The task deletes itself after the import; -Confirm and -Undo delete it by the same name.
        one_call(
            &file,
            &calls,
            "New-ScheduledTaskAction",
            &format!("'/Delete /TN {ROLLBACK_TASK} /F'"),
        );
        let unregister: Vec<&Call> = calls
            .iter()
            .filter(|c| c.name == "Unregister-ScheduledTask")
            .collect();
        assert_eq!(unregister.len(), 2, "{file}: -Confirm and -Undo");
        for c in unregister {
            assert!(c.text.contains(&task) && c.text.contains("-Confirm:$false"));
        }
        let triggers: Vec<&str> = calls
            .iter()
            .filter(|c| c.name == "New-ScheduledTaskTrigger")
            .map(|c| c.text.trim())
            .collect();
        assert_eq!(
            triggers,
            [
                "New-ScheduledTaskTrigger -Once -At ((Get-Date).AddSeconds($ConfirmWithin))",
                "New-ScheduledTaskTrigger -AtStartup"
            ]
        );
        // Export, then the task, then the first change.
        let first_change = calls
            .iter()
            .find(|c| c.name == "Rename-NetFirewallRule" || c.name == "New-NetFirewallRule")
            .expect("a change")
            .line;
        assert!(
            export.line < register.line && register.line < first_change,
            "{file}"
        );
        // -Undo removes what group abrfw holds, and the names abrfw gives, nothing else.
        assert!(
            body.contains(&format!(
                "    Get-NetFirewallRule -Group '{GROUP}' -ErrorAction SilentlyContinue | Remove-NetFirewallRule\r\n"
            )),
            "{file}"
        );
        assert!(body.contains(
            "Where-Object { $_.Name -like 'abrfw:*' -or $_.Name -like 'abrfw-retired:*' } | Remove-NetFirewallRule"
        ));
        // -Export reads abrfw's group, sorted by name, into the format abrfw verify reads.
        assert!(body.contains(&format!(
            "$rules = @(Get-NetFirewallRule -Group '{GROUP}' -ErrorAction SilentlyContinue | Sort-Object -Property Name |"
        )));
        let json = one_call(&file, &calls, "ConvertTo-Json", "abrfw_export");
        assert_eq!(
            json.text.trim(),
            "ConvertTo-Json -InputObject ([ordered]@{ abrfw_export = 1; profiles = $profiles; rules = $rules }) -Depth 5 -Compress"
        );
        for key in [
            "Name",
            "DisplayName",
            "Group",
            "Direction",
            "Action",
            "Enabled",
            "Protocol",
            "LocalPort",
            "RemotePort",
            "LocalAddress",
            "RemoteAddress",
            "IcmpType",
        ] {
            assert!(
                body.contains(&format!("            {key} = ")),
                "{file}: {key}"
            );
        }
    }
}

#[test]
fn netsh_cmd_rollback_imports_the_export_and_confirm_deletes_the_marker_task() {
    use abrfw_windows::mapping::{ROLLBACK_BOOT_TASK, ROLLBACK_TASK};
    for (file, text) in windows_files("netsh.cmd") {
        let lines: Vec<&str> = text.lines().collect();
        let at = |needle: &str| -> usize {
            let found: Vec<usize> = (0..lines.len())
                .filter(|&i| {
                    // A label is matched whole (`:confirm` is not `:confirm_within`).
                    lines[i] == needle || (!needle.starts_with(':') && lines[i].starts_with(needle))
                })
                .collect();
            assert_eq!(found.len(), 1, "{file}: {needle}");
            found[0]
        };
        if !text.contains("advfirewall") {
            // windows-legacy: undo only, confirm-within refused before any change.
            assert!(lines.contains(&"if /i \"%~1\"==\"confirm-within\" goto :no_rollback"));
            assert!(at(":no_rollback") < at(":apply"));
            continue;
        }
        let policy = "\"%abrfw_policy%\"";
        let export = at(&format!("netsh advfirewall export {policy}"));
        let import = at(&format!("netsh advfirewall import {policy}"));
        // The tasks run the copy the apply made of this very script.
        let copy = at("copy /y \"%~f0\" \"%abrfw_state%\\netsh.cmd\"");
        let boot = at(&format!(
            "schtasks /Create /TN {ROLLBACK_BOOT_TASK} /SC ONSTART"
        ));
        let timer = at(&format!("schtasks /Create /TN {ROLLBACK_TASK} /SC ONCE"));
        for i in [boot, timer] {
            assert!(lines[i].contains("/TR \"\\\"%abrfw_state%\\netsh.cmd\\\" __rollback-after "));
        }
        let run = at(&format!("schtasks /Run /TN {ROLLBACK_TASK} "));
        let first_change = at(
            "for /f \"tokens=1,* delims=:\" %%a in ('netsh advfirewall firewall show rule name^=all ^| findstr /r /c:\"^[^:]*: *abrfw:\"') do for /f \"tokens=*\" %%n in (\"%%b\") do (netsh advfirewall firewall set rule",
        );
        assert!(export < copy && copy < boot && boot < timer && timer < run && run < first_change);
        // The rollback imports only while the boot task exists; confirm deletes that task first.
        let check = format!("schtasks /Query /TN {ROLLBACK_BOOT_TASK} >nul 2>&1 || exit /b 0");
        assert!(at(":rollback_after") < at(&check) && at(&check) < import);
        let confirm = at(":confirm");
        assert_eq!(
            lines[confirm + 2],
            format!(
                "schtasks /Delete /TN {ROLLBACK_BOOT_TASK} /F >nul || (echo abrfw: could not delete the task {ROLLBACK_BOOT_TASK}; the rollback still runs>&2 & exit /b 1)"
            )
        );
        assert_eq!(
            lines[confirm + 3],
            format!("schtasks /End /TN {ROLLBACK_TASK} >nul 2>&1")
        );
        // Undo deletes by abrfw's names only (the netsh lint allows no other delete).
        let undo = at(":undo");
        assert!(lines[undo + 4].contains("netsh advfirewall firewall delete rule name=\"%%n\""));
        assert!(lines[undo + 4].contains("/c:\"^[^:]*: *abrfw:\" /c:\"^[^:]*: *abrfw-retired\""));
    }
}

/// netsh-legacy's exit status (decided in Rust, issue 14 item 4): an opening abrfw refuses to
/// write (a range wider than the XP firewall's one-port-per-opening limit) is reported and the
/// script exits 1 without the success line; a complete one exits 0 with it.
#[test]
fn netsh_legacy_exits_1_when_an_opening_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    let host = "[[host]]\nname = \"xp\"\nos = \"windows-legacy\"\naddresses = [\"192.0.2.31\"]\nroles = [\"agent\"]\n";
    let wide = "\n[[allow]]\nname = \"wide\"\nfrom = \"192.0.2.7\"\nto = \"xp\"\nport = \"8000-8200\"\ndescription = \"a wide range\"\n";
    for (extra, code, done) in [("", "exit /b 0", true), (wide, "exit /b 1", false)] {
        std::fs::write(&site, format!("{host}{extra}")).unwrap();
        let text = stdout_ok(&[
            "compile",
            site.to_str().unwrap(),
            "--host",
            "xp",
            "--backend",
            "netsh",
        ]);
        // The apply's exit: the first after `:apply` (the ones before end the undo and the
        // refused rollback arguments, the one after is the error label's).
        let exits: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != ":apply")
            .filter(|l| l.starts_with("exit /b"))
            .collect();
        assert_eq!(exits.first(), Some(&code), "{text}");
        assert_eq!(text.contains("port openings in place"), done, "{text}");
        assert_eq!(
            text.contains("abrfw: not opened: allow:wide"),
            !done,
            "{text}"
        );
    }
}
