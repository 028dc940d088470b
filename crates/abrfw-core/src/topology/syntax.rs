//! TOML and shape errors, said in the file's own words: which key or table is wrong, where, and
//! what was probably meant. serde's messages name Rust types and list every field; a user
//! wants "unknown key `adresses` in [[host]]; did you mean `addresses`?".

use crate::diagnostic::Diagnostic;
use crate::topology::suggest;

/// The tables a topology holds once (`[options]`) and those it holds many of (`[[host]]`).
const SINGLE_TABLES: &[&str] = &["options"];
const ARRAY_TABLES: &[&str] = &["host", "allow", "gateway", "zone"];

/// The diagnostic for a file `toml` could not read into the topology's shape.
pub(crate) fn diagnostic(e: &toml::de::Error, text: &str) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let message = e.message().trim_end();
    let at = text.get(span.clone()).unwrap_or("").trim();
    let d = |message: String, help: String| Diagnostic::new(message, span.clone()).help(help);
    if let Some(d) = table_shape(at, &d) {
        return d;
    }
    if let Some((key, expected)) = unknown_field(message) {
        let table = enclosing_table(text, span.start);
        let known: Vec<&str> = expected.iter().map(String::as_str).collect();
        let help = match suggest(&key, &known) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => format!("{table} takes no keys"),
            None => format!("{table} takes: {}", known.join(", ")),
        };
        if table == "the top level" && in_header(text, span.start) {
            let bracket = |t: &str| {
                if SINGLE_TABLES.contains(&t) {
                    format!("[{t}]")
                } else if ARRAY_TABLES.contains(&t) {
                    format!("[[{t}]]")
                } else {
                    t.to_owned()
                }
            };
            let help = match suggest(&key, &known) {
                Some(s) => format!("did you mean `{}`?", bracket(s)),
                None => {
                    "a topology has [options], [[host]], [[allow]], [[gateway]] and [[zone]] tables"
                        .into()
                }
            };
            return d(format!("unknown table `{key}`"), help);
        }
        return d(format!("unknown key `{key}` in {table}"), help);
    }
    if message.ends_with("expected a string") && !is_header(at) {
        let key = key_before(text, span.start).unwrap_or("this key");
        return d(
            format!("`{key}` takes a string: {}", type_part(message)),
            format!(
                "write it in quotes, e.g. {key} = \"{}\"",
                at.trim_matches(['[', ']'])
            ),
        );
    }
    if message.ends_with("expected a sequence") && !is_header(at) {
        let key = key_before(text, span.start).unwrap_or("this key");
        return d(
            format!("`{key}` takes a list: {}", type_part(message)),
            format!("write it in brackets, e.g. {key} = [{at}]"),
        );
    }
    if message == "duplicate key" {
        return d(
            format!(
                "key `{at}` is written twice in {}",
                enclosing_table(text, span.start)
            ),
            "keep one of them; a second [[host]] (or [[allow]] ...) starts a new entry".into(),
        );
    }
    d(
        message.replace("struct Raw", "table "),
        "see docs/topology.md for the file format".into(),
    )
}

/// `[host]` for `[[host]]` and `[[options]]` for `[options]`.
fn table_shape(at: &str, d: &dyn Fn(String, String) -> Diagnostic) -> Option<Diagnostic> {
    let header = at.lines().next()?.trim();
    if let Some(name) = header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
        let name = name.trim();
        if SINGLE_TABLES.contains(&name) {
            return Some(d(
                format!(
                    "`[[{name}]]` makes a list of tables, but a topology has one [{name}] table"
                ),
                format!("write `[{name}]` (single brackets), once"),
            ));
        }
        return None;
    }
    let name = header.strip_prefix('[')?.strip_suffix(']')?.trim();
    ARRAY_TABLES.contains(&name).then(|| {
        d(
            format!("`[{name}]` is a single table, but a topology lists each {name} in its own [[{name}]] table"),
            format!("write `[[{name}]]` (double brackets) before each {name}"),
        )
    })
}

/// Whether `offset` lies on a table header line (`[option]`).
fn in_header(text: &str, offset: usize) -> bool {
    let start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    text.get(start..)
        .is_some_and(|l| l.trim_start().starts_with('['))
}

fn is_header(at: &str) -> bool {
    at.starts_with('[')
        && at
            .lines()
            .next()
            .is_some_and(|l| l.trim_end().ends_with(']'))
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a` or `b`", "expected
/// `a`", "there are no fields"): the key and the keys the table takes.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((key.to_owned(), expected))
}

/// "invalid type: string \"x\", expected a sequence" -> "found a string".
fn type_part(message: &str) -> String {
    let found = message
        .strip_prefix("invalid type: ")
        .and_then(|m| m.split(',').next())
        .unwrap_or("another type");
    let kind = found.split_whitespace().next().unwrap_or(found);
    format!(
        "found {} {kind}",
        if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        }
    )
}

/// The key whose value starts at `offset`: `addresses` in `addresses = "10.0.0.1"`.
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = text.get(line_start..offset)?.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()).then_some(key)
}

/// The table header in force at `offset`, as written (`[[host]]`), or "the top level".
fn enclosing_table(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[\"") && l.ends_with(']'))
        .map_or_else(|| "the top level".to_owned(), str::to_owned)
}
