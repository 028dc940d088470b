//! A pf.conf syntax check for the test suite: there is no pfctl on Linux.
//!
//! A tokenizer and recursive-descent parser written from pf.conf(5) (OpenBSD and FreeBSD) and
//! pfctl's `parse.y` (lexer `lgetc`/`yylex`, the `pfrule`, `tabledef`, `ipportspec`, `port_item`,
//! `filter_opt` productions and `filter_consistent`). It covers the statements abrfw writes and
//! their close neighbours: macros, `table`, `set` (a few options), `pass`/`block`/`match`,
//! `antispoof`, `anchor` and `load anchor`. Translation (`nat`, `rdr`, `binat`, `*-to`), queueing,
//! `scrub` and route options are refused as unsupported, not as wrong.
//!
//! What it cannot know without a BSD kernel: whether interfaces exist, service names beyond a
//! small list, user and group names, host names (accepted if they look like names).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// pfvar.h `PF_TABLE_NAME_SIZE` 32, `PF_RULE_LABEL_SIZE` 64; net/if.h `IFNAMSIZ` 16.
const MAX_TABLE: usize = 31;
const MAX_LABEL: usize = 63;
const MAX_IFNAME: usize = 15;

/// pfctl's keyword table (OpenBSD and FreeBSD parse.y `lookup`), the words a macro or table
/// option cannot be and that never read as a plain string.
const KEYWORDS: &[&str] = &[
    "all",
    "allow-opts",
    "altq",
    "anchor",
    "antispoof",
    "any",
    "bandwidth",
    "binat",
    "binat-anchor",
    "bitmask",
    "block",
    "block-policy",
    "cbq",
    "code",
    "crop",
    "debug",
    "divert-reply",
    "divert-to",
    "drop",
    "drop-ovl",
    "dup-to",
    "fastroute",
    "file",
    "fingerprints",
    "flags",
    "floating",
    "flush",
    "for",
    "fragment",
    "from",
    "global",
    "group",
    "hfsc",
    "hostid",
    "icmp-type",
    "icmp6-type",
    "if-bound",
    "in",
    "include",
    "inet",
    "inet6",
    "keep",
    "label",
    "limit",
    "linkshare",
    "load",
    "log",
    "loginterface",
    "match",
    "max",
    "max-mss",
    "max-src-conn",
    "max-src-conn-rate",
    "max-src-nodes",
    "max-src-states",
    "min-ttl",
    "modulate",
    "nat",
    "nat-anchor",
    "nat-to",
    "no",
    "no-df",
    "no-route",
    "no-sync",
    "on",
    "optimization",
    "os",
    "out",
    "overload",
    "pass",
    "port",
    "prio",
    "priority",
    "priq",
    "probability",
    "proto",
    "qlimit",
    "queue",
    "quick",
    "random",
    "random-id",
    "rdr",
    "rdr-anchor",
    "rdr-to",
    "realtime",
    "reassemble",
    "reply-to",
    "require-order",
    "return",
    "return-icmp",
    "return-icmp6",
    "return-rst",
    "round-robin",
    "route",
    "route-to",
    "rtable",
    "rule",
    "ruleset-optimization",
    "scrub",
    "set",
    "set-tos",
    "skip",
    "sloppy",
    "source-hash",
    "source-track",
    "state",
    "state-defaults",
    "state-policy",
    "static-port",
    "sticky-address",
    "synproxy",
    "table",
    "tag",
    "tagged",
    "tbrsize",
    "timeout",
    "to",
    "tos",
    "ttl",
    "upperlimit",
    "urpf-failed",
    "user",
];

/// Names getservbyname(3) finds in every BSD /etc/services (a small subset).
const SERVICES: &[&str] = &[
    "auth",
    "bootpc",
    "bootps",
    "domain",
    "ftp",
    "ftp-data",
    "http",
    "https",
    "imap",
    "imaps",
    "kerberos",
    "ldap",
    "ldaps",
    "microsoft-ds",
    "netbios-dgm",
    "netbios-ns",
    "netbios-ssn",
    "nfsd",
    "ntp",
    "pop3",
    "pop3s",
    "smtp",
    "snmp",
    "ssh",
    "submission",
    "sunrpc",
    "syslog",
    "telnet",
    "tftp",
    "www",
];

/// getprotobyname(3) names in BSD /etc/protocols that pf rules use.
const PROTOCOLS: &[&str] = &[
    "ah",
    "carp",
    "egp",
    "esp",
    "gre",
    "icmp",
    "icmp6",
    "igmp",
    "ip",
    "ipencap",
    "ipip",
    "ipv6",
    "ipv6-icmp",
    "l2tp",
    "ospf",
    "pfsync",
    "pim",
    "sctp",
    "tcp",
    "udp",
    "vrrp",
];

const ICMP_TYPES: &[&str] = &[
    "echorep",
    "unreach",
    "squench",
    "redir",
    "althost",
    "echoreq",
    "routeradv",
    "routersol",
    "timex",
    "paramprob",
    "timereq",
    "timerep",
    "inforeq",
    "inforep",
    "maskreq",
    "maskrep",
    "trace",
    "dataconv",
    "mobredir",
    "ipv6-where",
    "ipv6-here",
    "mobregreq",
    "mobregrep",
    "skip",
    "photuris",
];

const ICMP6_TYPES: &[&str] = &[
    "unreach",
    "toobig",
    "timex",
    "paramprob",
    "echoreq",
    "echorep",
    "groupqry",
    "listqry",
    "grouprep",
    "listenrep",
    "groupterm",
    "listendone",
    "routersol",
    "routeradv",
    "neighbrsol",
    "neighbradv",
    "redir",
    "routrrenum",
    "wrureq",
    "wrurep",
    "fqdnreq",
    "fqdnrep",
    "niqry",
    "nirep",
    "mtraceresp",
    "mtrace",
];

/// How the file is meant to be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The main ruleset (`pfctl -f`).
    Main,
    /// An anchor (`pfctl -a NAME -f`): abrfw also refuses `set` options there, which belong to
    /// the main ruleset.
    Anchor,
}

/// A finding with its line number (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What a clean file still deserves a look for: pf accepts it, abrfw should not emit it.
#[derive(Debug, Default)]
pub struct Report {
    pub warnings: Vec<Finding>,
    pub rules: usize,
    pub tables: BTreeSet<String>,
}

/// Checks a pf.conf text; errors are what pfctl would refuse.
pub fn check(text: &str, mode: Mode) -> Result<Report, Vec<Finding>> {
    let mut p = Parser {
        mode,
        macros: BTreeMap::new(),
        errors: Vec::new(),
        report: Report::default(),
        referenced: Vec::new(),
        state: Order::None,
    };
    let mut lexer = Lexer::new(text);
    loop {
        let line = match lexer.statement(&p.macros) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                p.errors.push(e);
                lexer.skip_line();
                continue;
            }
        };
        if line.is_empty() {
            continue;
        }
        let n = line[0].line;
        let mut c = Cursor {
            toks: &line,
            pos: 0,
        };
        if let Err(message) = p.statement(&mut c) {
            p.errors.push(Finding { line: n, message });
        }
    }
    for (line, name) in std::mem::take(&mut p.referenced) {
        if !p.report.tables.contains(&name) {
            p.report.warnings.push(Finding {
                line,
                message: format!(
                    "table <{name}> is used but not defined here (pfctl creates it empty)"
                ),
            });
        }
    }
    if p.errors.is_empty() {
        Ok(p.report)
    } else {
        Err(p.errors)
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer: pfctl's yylex. Statements end at a newline; `\` + newline joins lines (also inside
// comments, since lgetc does it first); `#` comments to the end of the line; `$name` expands a
// macro outside quotes; strings are quoted or a run of "allowed_in_string" characters.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A bare word (keyword or not).
    Word(String),
    /// A quoted string.
    Quoted(String),
    /// `<>` or `><`.
    PortBinary(&'static str),
    /// `->`.
    Arrow,
    /// Any other single character: `{ } < > ! = / , ( )`.
    Punct(char),
}

#[derive(Debug, Clone)]
struct Tok {
    kind: Kind,
    line: usize,
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    _text: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
            _text: text,
        }
    }

    fn err(&self, message: impl Into<String>) -> Finding {
        Finding {
            line: self.line,
            message: message.into(),
        }
    }

    /// lgetc: the next character after line continuations; blanks are compressed to one ' '.
    fn getc(&mut self) -> Result<Option<char>, Finding> {
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return Ok(None);
            };
            if c == '\\' {
                match self.chars.get(self.pos + 1) {
                    Some('\n') => {
                        self.pos += 2;
                        self.line += 1;
                        continue;
                    }
                    Some(n) if n.is_whitespace() => return Err(self.err("whitespace after \\")),
                    _ => {}
                }
            }
            self.pos += 1;
            if c == ' ' || c == '\t' {
                while matches!(self.chars.get(self.pos), Some(' ' | '\t')) {
                    self.pos += 1;
                }
                return Ok(Some(' '));
            }
            return Ok(Some(c));
        }
    }

    fn peekc(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.chars.get(self.pos) {
            self.pos += 1;
            if *c == '\n' {
                self.line += 1;
                break;
            }
        }
    }

    /// The tokens of one statement (without its newline); `None` at the end of the text.
    fn statement(
        &mut self,
        macros: &BTreeMap<String, Vec<Kind>>,
    ) -> Result<Option<Vec<Tok>>, Finding> {
        if self.pos >= self.chars.len() {
            return Ok(None);
        }
        let mut toks = Vec::new();
        // Braces may span lines in table definitions and lists: pfctl's grammar allows optnl
        // inside `{ }` only there, but a newline inside braces never ends a statement.
        let mut depth = 0usize;
        loop {
            let line = self.line;
            let Some(c) = self.getc()? else {
                if depth > 0 {
                    return Err(self.err("syntax error: unbalanced '{' at end of file"));
                }
                return Ok(Some(toks));
            };
            match c {
                ' ' => {}
                '#' => {
                    while let Some(c) = self.peekc() {
                        if c == '\n' {
                            break;
                        }
                        self.getc()?;
                    }
                }
                '\n' => {
                    self.line += 1;
                    if depth == 0 {
                        return Ok(Some(toks));
                    }
                }
                '$' => {
                    let mut name = String::new();
                    while let Some(c) = self.peekc() {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            name.push(c);
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    let Some(value) = macros.get(&name) else {
                        return Err(self.err(format!("macro '{name}' not defined")));
                    };
                    for kind in value {
                        if let Kind::Punct('{') = kind {
                            depth += 1;
                        }
                        if let Kind::Punct('}') = kind {
                            depth = depth.saturating_sub(1);
                        }
                        toks.push(Tok {
                            kind: kind.clone(),
                            line,
                        });
                    }
                }
                '"' | '\'' => {
                    let quote = c;
                    let mut s = String::new();
                    loop {
                        let Some(c) = self.chars.get(self.pos).copied() else {
                            return Err(Finding {
                                line,
                                message: "unterminated quoted string".into(),
                            });
                        };
                        self.pos += 1;
                        match c {
                            '\\' => match self.chars.get(self.pos).copied() {
                                Some(n) if n == quote || n == ' ' || n == '\t' => {
                                    s.push(n);
                                    self.pos += 1;
                                }
                                Some('\n') => {
                                    self.pos += 1;
                                    self.line += 1;
                                }
                                _ => s.push('\\'),
                            },
                            '\n' => self.line += 1,
                            '\0' => return Err(self.err("syntax error: NUL in string")),
                            c if c == quote => break,
                            c => s.push(c),
                        }
                    }
                    toks.push(Tok {
                        kind: Kind::Quoted(s),
                        line,
                    });
                }
                '<' if self.peekc() == Some('>') => {
                    self.pos += 1;
                    toks.push(Tok {
                        kind: Kind::PortBinary("<>"),
                        line,
                    });
                }
                '>' if self.peekc() == Some('<') => {
                    self.pos += 1;
                    toks.push(Tok {
                        kind: Kind::PortBinary("><"),
                        line,
                    });
                }
                '-' if self.peekc() == Some('>') => {
                    self.pos += 1;
                    toks.push(Tok {
                        kind: Kind::Arrow,
                        line,
                    });
                }
                c if c.is_ascii_alphanumeric() || c == ':' || c == '_' => {
                    let mut s = String::from(c);
                    while let Some(n) = self.peekc() {
                        if allowed_in_string(n) {
                            s.push(n);
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    toks.push(Tok {
                        kind: Kind::Word(s),
                        line,
                    });
                }
                c => {
                    if c == '{' {
                        depth += 1;
                    }
                    if c == '}' {
                        if depth == 0 {
                            return Err(self.err("syntax error: unbalanced '}'"));
                        }
                        depth -= 1;
                    }
                    toks.push(Tok {
                        kind: Kind::Punct(c),
                        line,
                    });
                }
            }
        }
    }
}

/// parse.y `allowed_in_string`.
fn allowed_in_string(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || (c.is_ascii_punctuation()
            && !matches!(
                c,
                '(' | ')' | '{' | '}' | '<' | '>' | '!' | '=' | '/' | '#' | ','
            ))
}

// ---------------------------------------------------------------------------------------------
// Parser.

/// `set require-order` (FreeBSD default yes): options, normalization, queueing, translation,
/// filtering. Macros and tables may come anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Order {
    None,
    Option,
    Filter,
}

struct Parser {
    mode: Mode,
    macros: BTreeMap<String, Vec<Kind>>,
    errors: Vec<Finding>,
    report: Report,
    referenced: Vec<(usize, String)>,
    state: Order,
}

struct Cursor<'t> {
    toks: &'t [Tok],
    pos: usize,
}

type R<T> = Result<T, String>;

impl Cursor<'_> {
    fn peek(&self) -> Option<&Kind> {
        self.toks.get(self.pos).map(|t| &t.kind)
    }

    fn peek2(&self) -> Option<&Kind> {
        self.toks.get(self.pos + 1).map(|t| &t.kind)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(0, |t| t.line)
    }

    fn next(&mut self) -> Option<&Kind> {
        let t = self.toks.get(self.pos).map(|t| &t.kind);
        self.pos += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Kind::Word(x)) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Kind::Punct(x)) if *x == c)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> R<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(format!(
                "syntax error: expected '{c}', found {}",
                self.describe()
            ))
        }
    }

    /// A STRING token: a quoted string or a word that is not a keyword.
    fn string(&mut self, what: &str) -> R<String> {
        match self.peek() {
            Some(Kind::Quoted(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            Some(Kind::Word(w)) if !is_keyword(w) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(format!(
                "syntax error: expected {what}, found {}",
                self.describe()
            )),
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of line".into(),
            Some(Kind::Word(w)) => format!("'{w}'"),
            Some(Kind::Quoted(s)) => format!("\"{s}\""),
            Some(Kind::PortBinary(s)) => format!("'{s}'"),
            Some(Kind::Arrow) => "'->'".into(),
            Some(Kind::Punct(c)) => format!("'{c}'"),
        }
    }

    fn end(&self) -> R<()> {
        if self.pos >= self.toks.len() {
            Ok(())
        } else {
            Err(format!("syntax error at {}", self.describe()))
        }
    }

    /// parse.y `comma`: an optional ','.
    fn comma(&mut self) {
        self.eat_punct(',');
    }
}

fn is_keyword(w: &str) -> bool {
    KEYWORDS.contains(&w)
}

/// One rule's parts that `filter_consistent` looks at.
#[derive(Default)]
struct RuleFacts {
    action: &'static str,
    af: Option<&'static str>,
    protos: Vec<String>,
    ports: bool,
    port_range_with_op: bool,
    flags: bool,
    icmp: Option<&'static str>,
    state: Option<&'static str>,
    label: Option<String>,
    tag: bool,
}

impl Parser {
    fn order(&mut self, want: Order) -> R<()> {
        if self.state > want {
            return Err(
                "Rules must be in order: options, normalization, queueing, translation, filtering"
                    .into(),
            );
        }
        self.state = want;
        Ok(())
    }

    fn statement(&mut self, c: &mut Cursor<'_>) -> R<()> {
        let line = c.line();
        match c.peek().cloned() {
            Some(Kind::Word(w))
                if !is_keyword(&w) && matches!(c.peek2(), Some(Kind::Punct('='))) =>
            {
                c.pos += 2;
                self.macro_def(line, &w, c)
            }
            Some(Kind::Word(w)) => match w.as_str() {
                "table" => self.table(line, c),
                "set" => {
                    if self.mode == Mode::Anchor {
                        return Err(
                            "options ('set') belong in the main ruleset, not in an anchor".into(),
                        );
                    }
                    self.order(Order::Option)?;
                    self.option(c)
                }
                "pass" | "block" | "match" => {
                    self.order(Order::Filter)?;
                    self.rule(line, c)
                }
                "antispoof" => {
                    self.order(Order::Filter)?;
                    self.antispoof(c)
                }
                "anchor" => {
                    self.order(Order::Filter)?;
                    self.anchor(line, c)
                }
                "load" => {
                    c.pos += 1;
                    if !c.eat_word("anchor") {
                        return Err("syntax error: expected 'anchor' after 'load'".into());
                    }
                    let name = c.string("anchor name")?;
                    anchor_name(&name)?;
                    if !c.eat_word("from") {
                        return Err("syntax error: expected 'from'".into());
                    }
                    c.string("file name")?;
                    c.end()
                }
                "scrub" | "nat" | "rdr" | "binat" | "nat-anchor" | "rdr-anchor"
                | "binat-anchor" | "altq" | "queue" | "include" => Err(format!(
                    "'{w}' is valid pf but outside what this checker understands"
                )),
                _ => Err(format!("syntax error: unknown statement '{w}'")),
            },
            _ => Err(format!("syntax error at {}", c.describe())),
        }
    }

    fn macro_def(&mut self, line: usize, name: &str, c: &mut Cursor<'_>) -> R<()> {
        let _ = line;
        // varset: STRING '=' string, i.e. one or more strings joined with spaces; the value is
        // lexed again where it is used.
        let mut value = String::new();
        while let Some(k) = c.next() {
            let s = match k {
                Kind::Quoted(s) | Kind::Word(s) => s.clone(),
                _ => return Err("syntax error in macro value: quote it".into()),
            };
            if !value.is_empty() {
                value.push(' ');
            }
            value.push_str(&s);
        }
        if value.is_empty() {
            return Err(format!("syntax error: macro {name} has no value"));
        }
        let mut lx = Lexer::new(&value);
        let toks = lx
            .statement(&self.macros)
            .map_err(|e| format!("in macro {name}: {}", e.message))?
            .unwrap_or_default();
        self.macros
            .insert(name.to_owned(), toks.into_iter().map(|t| t.kind).collect());
        Ok(())
    }

    fn table(&mut self, line: usize, c: &mut Cursor<'_>) -> R<()> {
        c.pos += 1;
        c.expect_punct('<')?;
        let name = c.string("table name")?;
        c.expect_punct('>')?;
        table_name(&name)?;
        if !self.report.tables.insert(name.clone()) {
            return Err(format!("table <{name}> defined twice"));
        }
        let _ = line;
        while c.peek().is_some() {
            if c.eat_punct('{') {
                while !c.eat_punct('}') {
                    let not = c.eat_punct('!');
                    let _ = not;
                    let addr = match c.next() {
                        Some(Kind::Word(w)) => w.clone(),
                        Some(Kind::Quoted(s)) => s.clone(),
                        _ => return Err(format!("syntax error in table <{name}>")),
                    };
                    let prefix = if c.eat_punct('/') {
                        Some(number(c)?)
                    } else {
                        None
                    };
                    table_address(&addr, prefix)?;
                    c.comma();
                }
            } else if c.eat_word("file") {
                c.string("file name")?;
            } else {
                match c.next() {
                    Some(Kind::Word(w))
                        if matches!(w.as_str(), "const" | "persist" | "counters") => {}
                    _ => {
                        return Err(format!(
                            "syntax error in table <{name}>: expected const, persist, counters, file or '{{'"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn option(&mut self, c: &mut Cursor<'_>) -> R<()> {
        c.pos += 1;
        let Some(Kind::Word(w)) = c.next().cloned() else {
            return Err("syntax error after 'set'".into());
        };
        match w.as_str() {
            "skip" => {
                if !c.eat_word("on") {
                    return Err("syntax error: set skip on IFSPEC".into());
                }
                interfaces(c)?;
            }
            "block-policy" => {
                if !(c.eat_word("drop") || c.eat_word("return")) {
                    return Err("syntax error: set block-policy drop|return".into());
                }
            }
            "state-policy" => {
                if !(c.eat_word("if-bound") || c.eat_word("floating")) {
                    return Err("syntax error: set state-policy if-bound|floating".into());
                }
            }
            "require-order" => {
                if !(c.eat_word("no") || c.string("yes")? == "yes") {
                    return Err("syntax error: set require-order yes|no".into());
                }
            }
            "optimization" | "ruleset-optimization" | "loginterface" | "debug" | "hostid" => {
                c.string("value")?;
            }
            "limit" | "timeout" => {
                let braced = c.eat_punct('{');
                loop {
                    c.string("name")?;
                    number(c)?;
                    c.comma();
                    if !braced || c.eat_punct('}') {
                        break;
                    }
                }
            }
            _ => return Err(format!("syntax error: unknown option 'set {w}'")),
        }
        c.end()
    }

    fn antispoof(&mut self, c: &mut Cursor<'_>) -> R<()> {
        c.pos += 1;
        c.eat_word("log");
        c.eat_word("quick");
        if !c.eat_word("for") {
            return Err("syntax error: antispoof needs 'for IFSPEC'".into());
        }
        interfaces(c)?;
        let _ = c.eat_word("inet") || c.eat_word("inet6");
        if c.eat_word("label") {
            label(&c.string("label")?, &mut self.report.warnings, c.line())?;
        }
        self.report.rules += 1;
        c.end()
    }

    fn anchor(&mut self, line: usize, c: &mut Cursor<'_>) -> R<()> {
        c.pos += 1;
        let name = c.string("anchor name")?;
        anchor_name(&name)?;
        let mut facts = RuleFacts {
            action: "anchor",
            ..RuleFacts::default()
        };
        let _ = c.eat_word("in") || c.eat_word("out");
        c.eat_word("quick");
        if c.eat_word("on") {
            interfaces(c)?;
        }
        self.af_proto_hosts(line, c, &mut facts)?;
        self.report.rules += 1;
        c.end()
    }

    fn rule(&mut self, line: usize, c: &mut Cursor<'_>) -> R<()> {
        let Some(Kind::Word(action)) = c.next().cloned() else {
            return Err("syntax error".into());
        };
        let mut f = RuleFacts {
            action: match action.as_str() {
                "pass" => "pass",
                "block" => "block",
                _ => "match",
            },
            ..RuleFacts::default()
        };
        if action == "block" {
            // blockspec
            let plain = c.eat_word("drop") || c.eat_word("return");
            if !plain && c.eat_word("return-rst") {
                if c.eat_punct('(') {
                    if !c.eat_word("ttl") {
                        return Err("syntax error: return-rst (ttl N)".into());
                    }
                    number(c)?;
                    c.expect_punct(')')?;
                }
            } else if !plain
                && (c.eat_word("return-icmp") || c.eat_word("return-icmp6"))
                && c.eat_punct('(')
            {
                c.string("icmp code")?;
                c.comma();
                if !c.is_punct(')') {
                    c.string("icmp6 code")?;
                }
                c.expect_punct(')')?;
            }
        }
        let _ = c.eat_word("in") || c.eat_word("out");
        // logquick: log, quick, log quick, quick log
        for _ in 0..2 {
            if c.eat_word("log") {
                if c.eat_punct('(') {
                    while !c.eat_punct(')') {
                        match c.next() {
                            Some(Kind::Word(w))
                                if matches!(w.as_str(), "all" | "user" | "matches" | "to") => {}
                            Some(Kind::Word(w)) if w.starts_with("pflog") => {}
                            Some(Kind::Punct(',')) => {}
                            _ => return Err("syntax error in log options".into()),
                        }
                    }
                }
            } else {
                c.eat_word("quick");
            }
        }
        if c.eat_word("on") {
            interfaces(c)?;
        }
        for w in ["fastroute", "route-to", "reply-to", "dup-to"] {
            if c.is_word(w) {
                return Err(format!(
                    "'{w}' is valid pf but outside what this checker understands"
                ));
            }
        }
        self.af_proto_hosts(line, c, &mut f)?;
        self.filter_opts(c, &mut f)?;
        c.end()?;
        self.consistent(&f)?;
        self.report.rules += 1;
        Ok(())
    }

    /// `[af] [proto ...] [all | from ... to ...]`.
    fn af_proto_hosts(&mut self, line: usize, c: &mut Cursor<'_>, f: &mut RuleFacts) -> R<()> {
        if c.eat_word("inet") {
            f.af = Some("inet");
        } else if c.eat_word("inet6") {
            f.af = Some("inet6");
        }
        if c.eat_word("proto") {
            if c.eat_punct('{') {
                while !c.eat_punct('}') {
                    f.protos.push(protocol(c)?);
                    c.comma();
                }
                if f.protos.is_empty() {
                    return Err("syntax error: empty proto list".into());
                }
            } else {
                f.protos.push(protocol(c)?);
            }
        }
        if c.eat_word("all") {
            return Ok(());
        }
        if c.eat_word("from") {
            self.ipportspec(line, c, f)?;
            if c.eat_word("os") {
                c.string("os fingerprint")?;
            }
        }
        if c.eat_word("to") {
            self.ipportspec(line, c, f)?;
        }
        Ok(())
    }

    fn ipportspec(&mut self, line: usize, c: &mut Cursor<'_>, f: &mut RuleFacts) -> R<()> {
        if !c.is_word("port") {
            if c.eat_word("any") {
                // any address
            } else if c.eat_punct('{') {
                let mut n = 0;
                while !c.eat_punct('}') {
                    self.xhost(line, c)?;
                    c.comma();
                    n += 1;
                }
                if n == 0 {
                    return Err("syntax error: empty address list".into());
                }
            } else {
                self.xhost(line, c)?;
            }
        }
        if c.eat_word("port") {
            f.ports = true;
            if c.eat_punct('{') {
                let mut n = 0;
                while !c.eat_punct('}') {
                    port_item(c, f)?;
                    c.comma();
                    n += 1;
                }
                if n == 0 {
                    return Err("syntax error: empty port list".into());
                }
            } else {
                port_item(c, f)?;
            }
        }
        Ok(())
    }

    /// xhost: `[!] host | no-route | urpf-failed`.
    fn xhost(&mut self, line: usize, c: &mut Cursor<'_>) -> R<()> {
        if c.eat_word("no-route") || c.eat_word("urpf-failed") {
            return Ok(());
        }
        c.eat_punct('!');
        if c.eat_punct('<') {
            let name = c.string("table name")?;
            c.expect_punct('>')?;
            table_name(&name)?;
            self.referenced.push((line, name));
            return Ok(());
        }
        if c.eat_punct('(') {
            let name = c.string("interface")?;
            interface_spec(&name)?;
            c.expect_punct(')')?;
            if c.eat_punct('/') {
                number(c)?;
            }
            return Ok(());
        }
        let addr = c.string("address")?;
        let prefix = if c.eat_punct('/') {
            Some(number(c)?)
        } else {
            None
        };
        rule_address(&addr, prefix)
    }

    fn filter_opts(&mut self, c: &mut Cursor<'_>, f: &mut RuleFacts) -> R<()> {
        while let Some(k) = c.peek().cloned() {
            let Kind::Word(w) = k else {
                return Err(format!("syntax error at {}", c.describe()));
            };
            c.pos += 1;
            match w.as_str() {
                "flags" => {
                    if f.flags {
                        return Err("flags cannot be redefined".into());
                    }
                    f.flags = true;
                    if c.eat_word("any") {
                        continue;
                    }
                    if !c.is_punct('/') {
                        tcp_flags(&c.string("flags")?)?;
                    }
                    c.expect_punct('/')?;
                    tcp_flags(&c.string("flags")?)?;
                }
                "icmp-type" | "icmp6-type" => {
                    if f.icmp.is_some() {
                        return Err("icmp-type cannot be redefined".into());
                    }
                    let (names, v6) = if w == "icmp-type" {
                        (ICMP_TYPES, false)
                    } else {
                        (ICMP6_TYPES, true)
                    };
                    f.icmp = Some(if v6 { "icmp6" } else { "icmp" });
                    let braced = c.eat_punct('{');
                    loop {
                        let t = c.string("icmp type")?;
                        if t.parse::<u8>().is_err() && !names.contains(&t.as_str()) {
                            return Err(format!("unknown {w} {t}"));
                        }
                        if c.eat_word("code") {
                            c.string("icmp code")?;
                        }
                        c.comma();
                        if !braced || c.eat_punct('}') {
                            break;
                        }
                    }
                }
                "keep" | "modulate" | "synproxy" | "no" => {
                    if !c.eat_word("state") {
                        return Err(format!("syntax error: expected 'state' after '{w}'"));
                    }
                    if f.state.is_some() {
                        return Err("modulate or keep cannot be redefined".into());
                    }
                    f.state = Some(match w.as_str() {
                        "keep" => "keep",
                        "modulate" => "modulate",
                        "synproxy" => "synproxy",
                        _ => "no",
                    });
                    if w != "no" && c.eat_punct('(') {
                        while !c.eat_punct(')') {
                            match c.next() {
                                Some(Kind::Word(_)) | Some(Kind::Punct(',')) => {}
                                _ => return Err("syntax error in state options".into()),
                            }
                        }
                    }
                }
                "label" => {
                    if f.label.is_some() {
                        return Err("label cannot be redefined".into());
                    }
                    let s = c.string("label")?;
                    label(&s, &mut self.report.warnings, c.line())?;
                    f.label = Some(s);
                }
                "tag" | "tagged" => {
                    let s = c.string("tag")?;
                    if s.len() > 63 {
                        return Err("tag too long".into());
                    }
                    f.tag |= w == "tag";
                }
                "queue" | "user" | "group" | "rtable" | "probability" | "tos" | "prio" => {
                    c.string(&w)?;
                }
                "allow-opts" | "fragment" | "once" => {}
                _ => return Err(format!("syntax error: unknown rule option '{w}'")),
            }
        }
        Ok(())
    }

    /// parse.y `filter_consistent` and the checks of the `pfrule` action.
    fn consistent(&self, f: &RuleFacts) -> R<()> {
        let all_tcp_udp = !f.protos.is_empty()
            && f.protos
                .iter()
                .all(|p| p == "tcp" || p == "udp" || p == "6" || p == "17");
        if f.ports && !all_tcp_udp {
            return Err("port only applies to tcp/udp".into());
        }
        if f.port_range_with_op {
            return Err("':' cannot be used with an other port operator".into());
        }
        if f.flags && !f.protos.is_empty() && !f.protos.iter().any(|p| p == "tcp" || p == "6") {
            return Err("flags only apply to tcp".into());
        }
        if let Some(icmp) = f.icmp {
            let ok = f.protos.iter().all(|p| {
                (icmp == "icmp" && (p == "icmp" || p == "1"))
                    || (icmp == "icmp6" && (p == "icmp6" || p == "ipv6-icmp" || p == "58"))
            });
            if f.protos.is_empty() || !ok {
                return Err("icmp-type/code only applies to icmp".into());
            }
            if f.af.is_none() {
                return Err("must indicate address family with icmp-type/code".into());
            }
        }
        for p in &f.protos {
            if (p == "icmp" && f.af == Some("inet6"))
                || ((p == "icmp6" || p == "ipv6-icmp") && f.af == Some("inet"))
            {
                return Err(format!("proto {p} doesn't match address family"));
            }
        }
        if matches!(f.state, Some("modulate" | "synproxy"))
            && !f.protos.is_empty()
            && f.protos.iter().any(|p| p != "tcp")
        {
            return Err("modulate/synproxy state can only be applied to TCP rules".into());
        }
        if f.action == "block" && matches!(f.state, Some(s) if s != "no") {
            return Err("keep state on block rules doesn't make sense".into());
        }
        if f.tag && f.action == "pass" && f.state == Some("no") {
            return Err("tags cannot be used without keep state".into());
        }
        Ok(())
    }
}

fn number(c: &mut Cursor<'_>) -> R<u32> {
    let s = c.string("number")?;
    s.parse::<u32>().map_err(|_| format!("{s} is not a number"))
}

fn table_name(name: &str) -> R<()> {
    if name.is_empty() {
        return Err("syntax error: empty table name".into());
    }
    if name.len() > MAX_TABLE {
        return Err(format!("table name too long, max {MAX_TABLE} chars"));
    }
    Ok(())
}

fn anchor_name(name: &str) -> R<()> {
    if name.is_empty() || name.len() > 63 {
        return Err("anchor name empty or too long".into());
    }
    if name.starts_with('_') || name.contains("/_") {
        return Err(format!(
            "anchor names beginning with '_' are reserved: {name}"
        ));
    }
    Ok(())
}

/// A label: at most 63 bytes. `$` macros pfctl expands in labels are a warning: the expansion may
/// push it past the limit.
fn label(s: &str, warnings: &mut Vec<Finding>, line: usize) -> R<()> {
    if s.len() > MAX_LABEL {
        return Err(format!("rule label too long (max {MAX_LABEL} chars)"));
    }
    for m in [
        "$if", "$srcaddr", "$dstaddr", "$srcport", "$dstport", "$proto", "$nr",
    ] {
        if s.contains(m) {
            warnings.push(Finding {
                line,
                message: format!("label \"{s}\" expands {m}"),
            });
        }
    }
    Ok(())
}

/// One interface spec: `on [!] if` or `on { [!] if, ... }`.
fn interfaces(c: &mut Cursor<'_>) -> R<()> {
    if c.eat_punct('{') {
        let mut n = 0;
        while !c.eat_punct('}') {
            c.eat_punct('!');
            interface_spec(&c.string("interface")?)?;
            c.comma();
            n += 1;
        }
        if n == 0 {
            return Err("syntax error: empty interface list".into());
        }
        Ok(())
    } else {
        c.eat_punct('!');
        interface_spec(&c.string("interface")?)
    }
}

/// An interface or interface group name, optionally with `:network` and friends (address
/// contexts only; harmless to accept here).
fn interface_spec(name: &str) -> R<()> {
    let base = name.split(':').next().unwrap_or_default();
    if base.is_empty()
        || base.len() > MAX_IFNAME
        || !base.starts_with(|c: char| c.is_ascii_alphabetic())
        || !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(format!("invalid interface name {name}"));
    }
    for m in name.split(':').skip(1) {
        if !matches!(m, "network" | "broadcast" | "peer" | "0") {
            return Err(format!("invalid interface modifier :{m}"));
        }
    }
    Ok(())
}

fn protocol(c: &mut Cursor<'_>) -> R<String> {
    let p = c.string("protocol")?;
    match p.parse::<u32>() {
        Ok(0) => Err("proto 0 cannot be used".into()),
        Ok(n) if n > 255 => Err("protocol outside range".into()),
        Ok(_) => Ok(p),
        Err(_) if PROTOCOLS.contains(&p.as_str()) => Ok(p),
        Err(_) => Err(format!("unknown protocol {p}")),
    }
}

/// parse.y `port`: a number, a service name, or (filter rules, OpenBSD >= 3.7 and FreeBSD) an
/// inclusive range `a:b` as one word.
fn port(s: &str) -> R<(u16, Option<u16>)> {
    let one = |p: &str| -> R<u16> {
        match p.parse::<u32>() {
            Ok(n) if n <= 65535 => Ok(n as u16),
            Ok(n) => Err(format!("illegal port value {n}")),
            Err(_) if SERVICES.contains(&p) => Ok(1),
            Err(_) => Err(format!("unknown port {p}")),
        }
    };
    match s.split_once(':') {
        Some((a, b)) => Ok((one(a)?, Some(one(b)?))),
        None => Ok((one(s)?, None)),
    }
}

fn port_item(c: &mut Cursor<'_>, f: &mut RuleFacts) -> R<()> {
    // unaryop port
    let op = if c.eat_punct('=') {
        Some("=")
    } else if c.is_punct('!') && matches!(c.peek2(), Some(Kind::Punct('='))) {
        c.pos += 2;
        Some("!=")
    } else if c.eat_punct('<') {
        c.eat_punct('=');
        Some("<")
    } else if c.eat_punct('>') {
        c.eat_punct('=');
        Some(">")
    } else {
        None
    };
    let first = port(&c.string("port")?)?;
    if op.is_some() {
        if first.1.is_some() {
            f.port_range_with_op = true;
        }
        return Ok(());
    }
    if let Some(Kind::PortBinary(_)) = c.peek() {
        c.pos += 1;
        let second = port(&c.string("port")?)?;
        if first.1.is_some() || second.1.is_some() {
            f.port_range_with_op = true;
        }
        return Ok(());
    }
    if let (a, Some(b)) = first
        && a > b
    {
        return Err(format!("port range {a}:{b} is empty"));
    }
    Ok(())
}

fn tcp_flags(s: &str) -> R<()> {
    if s.chars().all(|c| "FSRPAUEW".contains(c)) && !s.is_empty() {
        Ok(())
    } else {
        Err(format!("bad flags {s}"))
    }
}

/// A host in a rule: an address with an optional prefix (host bits are masked, as pfctl does),
/// `self`, an interface name with modifiers, or a host name resolved at load time.
fn rule_address(addr: &str, prefix: Option<u32>) -> R<()> {
    address(addr, prefix, false)
}

/// A table entry: the same, but the kernel refuses a network with host bits set
/// (`pfr_validate_addr`).
fn table_address(addr: &str, prefix: Option<u32>) -> R<()> {
    address(addr, prefix, true)
}

fn address(addr: &str, prefix: Option<u32>, strict: bool) -> R<()> {
    if let Some(ip) = parse_ip(addr) {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits = prefix.unwrap_or(max);
        if bits > max {
            return Err(format!("invalid netmask '{bits}' for {addr}"));
        }
        if strict && bits < max && has_host_bits(ip, bits) {
            return Err(format!(
                "{addr}/{bits}: host bits set (the kernel refuses it in a table)"
            ));
        }
        return Ok(());
    }
    if addr.contains('-') && addr.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return Err(format!(
            "no IP address found for {addr} (ranges are 'a - b', with spaces)"
        ));
    }
    if addr
        .chars()
        .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':')
        && addr.contains(|c: char| c.is_ascii_digit() || c == '.' || c == ':')
    {
        return Err(format!("no IP address found for {addr}"));
    }
    if addr == "self" || interface_spec(addr).is_ok() {
        return Ok(());
    }
    // A host name resolved at load time.
    if addr
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Ok(());
    }
    Err(format!("no IP address found for {addr}"))
}

/// inet_net_pton style: `10`, `10.1`, `10.1.2`, `10.1.2.3`, or an IPv6 address.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        octets[i] = p.parse().ok()?;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

fn has_host_bits(ip: IpAddr, bits: u32) -> bool {
    match ip {
        IpAddr::V4(a) => bits < 32 && u32::from(a) & (u32::MAX >> bits) != 0,
        IpAddr::V6(a) => bits < 128 && u128::from(a) & (u128::MAX >> bits) != 0,
    }
}
