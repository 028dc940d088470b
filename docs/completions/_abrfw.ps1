
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'abrfw' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'abrfw'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'abrfw' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('compile', 'compile', [CompletionResultType]::ParameterValue, 'Compile a site topology into firewall rule sets')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a topology and summarise what it compiles to')
            [CompletionResult]::new('flows', 'flows', [CompletionResultType]::ParameterValue, 'Print the flow catalog of a release')
            [CompletionResult]::new('releases', 'releases', [CompletionResultType]::ParameterValue, 'List the built-in releases (and one loaded with --catalog)')
            [CompletionResult]::new('services', 'services', [CompletionResultType]::ParameterValue, 'List the site services an [[allow]] can name with `service = ...`, with their ports')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Compare a site under two releases, or two versions of a site; exit 1 when they differ')
            [CompletionResult]::new('example', 'example', [CompletionResultType]::ParameterValue, 'Print the built-in example topology (a starting point for your own site)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (e.g. `abrfw completions bash > /etc/bash_completion.d/abrfw`)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the manual page (roff), e.g. `abrfw man > abrfw.1`')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain a host''s rules: which flow, roles, phase and options made each apply, and why a port or peer has no rule')
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'Would this connection pass? Follow it hop by hop: the initiator''s outbound rules, each gateway between the zones, the responder''s inbound rules; exit 0 when allowed end to end, 1 when a hop drops it, 2 on error')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Which firewall dropped it, and why? Read drop-log lines (kernel log or journal of nftables/iptables, Windows pfirewall.log, tcpdump text of pflog) and attribute each to a cause: a flow the topology does not enable, a wrong source port, a peer unknown to the site, an undocumented connection')
            [CompletionResult]::new('graph', 'graph', [CompletionResultType]::ParameterValue, 'Draw the site''s connection diagram: arrows from initiator to responder, grouped by zone')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of the topology file (docs/topology.schema.json), for editors')
            [CompletionResult]::new('inventory', 'inventory', [CompletionResultType]::ParameterValue, 'Print an Ansible inventory of the site (JSON, which Ansible reads as YAML) for the playbook in contrib/ansible; see docs/config-management.md')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Compare a host''s live firewall with its compiled rules; exit 1 when they differ')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'abrfw;compile' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Directory to write DIR/<host>/<file> into (created if missing). A host or gateway with nftables, iptables or pf files also gets DIR/<host>/apply.sh, which loads them with a timed rollback (docs/rollout.md)')
            [CompletionResult]::new('--out-dir', '--out-dir', [CompletionResultType]::ParameterName, 'Directory to write DIR/<host>/<file> into (created if missing). A host or gateway with nftables, iptables or pf files also gets DIR/<host>/apply.sh, which loads them with a timed rollback (docs/rollout.md)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Print the rule set of this one host to stdout instead of writing files')
            [CompletionResult]::new('--backend', '--backend', [CompletionResultType]::ParameterName, 'Only this backend, for every host it serves (default: the backends the topology chooses for each host, `backends` or `[options] linux_backends`, else every default backend of the host''s OS; with --host, the first of them)')
            [CompletionResult]::new('--layout', '--layout', [CompletionResultType]::ParameterName, 'How to lay out --out-dir: `hosts`, DIR/<host>/<file> for every host and gateway; or `classes`, DIR/<class>/<file> once per class of hosts with the same rules and DIR/index/hosts.json mapping each host to its class (docs/config-management.md). Default: the layout the tree in DIR has, else `hosts`')
            [CompletionResult]::new('--lock-wait', '--lock-wait', [CompletionResultType]::ParameterName, 'Seconds to wait for another abrfw run writing into --out-dir to finish (DIR/.abrfw.lock) before giving up with exit 2')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('--ir', '--ir', [CompletionResultType]::ParameterName, 'Print the compiled IR of the host or gateway as JSON instead of a backend''s files')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Write nothing; list the files a run would add, change or remove and exit 1, or exit 0 when --out-dir is current')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;check' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('--encryption', '--encryption', [CompletionResultType]::ParameterName, 'Also list the flows that cross zones without encryption (from the catalog''s encryption notes): unencrypted, depending on SMB settings, or without a vendor note')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'abrfw;flows' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Release whose catalog to print (default: abr-11.5)')
            [CompletionResult]::new('--diff', '--diff', [CompletionResultType]::ParameterName, 'Print the difference between the catalogs of two releases instead (exit 1 when they differ), e.g. `--diff abr-11.5 ab-12.5`')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) besides the built-in ones')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;releases' {
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and list it too')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;services' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;diff' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Release of the old side (default: the release its topology names)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Release of the new side (default: the release its topology names)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md), to name in --from/--to')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--backend', '--backend', [CompletionResultType]::ParameterName, 'The backend whose rendered files --format unified compares')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour text and unified output (auto: on a terminal, unless NO_COLOR is set)')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site (on both sides) instead of a file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;example' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'abrfw;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'abrfw;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'abrfw;explain' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'The host whose rules to explain, or a [[gateway]] whose forward rules to explain')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Only rules on this port; also list the flows on it that give the host no rule, and why')
            [CompletionResult]::new('--peer', '--peer', [CompletionResultType]::ParameterName, 'Only rules towards this host; also list the flows between the two that give no rule')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;query' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The initiator: a host name or an address')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The responder: a host name or an address')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'The responder''s port')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'Transport protocol')
            [CompletionResult]::new('--sport', '--sport', [CompletionResultType]::ParameterName, 'The initiator''s source port (default: any port of its OS ephemeral range)')
            [CompletionResult]::new('--family', '--family', [CompletionResultType]::ParameterName, 'Address family, 4 or 6 (default: IPv4 when both ends have it)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;logs' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'The host or gateway that wrote the files, for lines that name none (pfirewall.log, pflog, dmesg); syslog and journal lines name their host themselves')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;graph' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--phase', '--phase', [CompletionResultType]::ParameterName, 'Only the flows of this phase (default: the phases the topology selects)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'One box per host, per class (hosts of one zone with the same OS and roles), or per zone (default: host, class above 40 hosts)')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;schema' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'abrfw;inventory' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('--tree', '--tree', [CompletionResultType]::ParameterName, 'The directory `compile --out-dir` wrote (must exist), recorded as the `abrfw_tree` variable, absolute')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'abrfw;verify' {
            [CompletionResult]::new('--release', '--release', [CompletionResultType]::ParameterName, 'Compile under this release instead of the topology''s `release` (see `abrfw releases`)')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'The host whose live state --live holds')
            [CompletionResult]::new('--live', '--live', [CompletionResultType]::ParameterName, 'The host''s live state, as the backend''s collection command prints it')
            [CompletionResult]::new('--tree', '--tree', [CompletionResultType]::ParameterName, 'A directory of collected states: DIR/<host>/<backend file> for every host')
            [CompletionResult]::new('--backend', '--backend', [CompletionResultType]::ParameterName, 'The backend whose state --live holds (default: from the host''s OS and the file)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--example', '--example', [CompletionResultType]::ParameterName, 'Use the built-in example site instead of a file')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'abrfw;help' {
            [CompletionResult]::new('compile', 'compile', [CompletionResultType]::ParameterValue, 'Compile a site topology into firewall rule sets')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a topology and summarise what it compiles to')
            [CompletionResult]::new('flows', 'flows', [CompletionResultType]::ParameterValue, 'Print the flow catalog of a release')
            [CompletionResult]::new('releases', 'releases', [CompletionResultType]::ParameterValue, 'List the built-in releases (and one loaded with --catalog)')
            [CompletionResult]::new('services', 'services', [CompletionResultType]::ParameterValue, 'List the site services an [[allow]] can name with `service = ...`, with their ports')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Compare a site under two releases, or two versions of a site; exit 1 when they differ')
            [CompletionResult]::new('example', 'example', [CompletionResultType]::ParameterValue, 'Print the built-in example topology (a starting point for your own site)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (e.g. `abrfw completions bash > /etc/bash_completion.d/abrfw`)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the manual page (roff), e.g. `abrfw man > abrfw.1`')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain a host''s rules: which flow, roles, phase and options made each apply, and why a port or peer has no rule')
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'Would this connection pass? Follow it hop by hop: the initiator''s outbound rules, each gateway between the zones, the responder''s inbound rules; exit 0 when allowed end to end, 1 when a hop drops it, 2 on error')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Which firewall dropped it, and why? Read drop-log lines (kernel log or journal of nftables/iptables, Windows pfirewall.log, tcpdump text of pflog) and attribute each to a cause: a flow the topology does not enable, a wrong source port, a peer unknown to the site, an undocumented connection')
            [CompletionResult]::new('graph', 'graph', [CompletionResultType]::ParameterValue, 'Draw the site''s connection diagram: arrows from initiator to responder, grouped by zone')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of the topology file (docs/topology.schema.json), for editors')
            [CompletionResult]::new('inventory', 'inventory', [CompletionResultType]::ParameterValue, 'Print an Ansible inventory of the site (JSON, which Ansible reads as YAML) for the playbook in contrib/ansible; see docs/config-management.md')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Compare a host''s live firewall with its compiled rules; exit 1 when they differ')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'abrfw;help;compile' {
            break
        }
        'abrfw;help;check' {
            break
        }
        'abrfw;help;flows' {
            break
        }
        'abrfw;help;releases' {
            break
        }
        'abrfw;help;services' {
            break
        }
        'abrfw;help;diff' {
            break
        }
        'abrfw;help;example' {
            break
        }
        'abrfw;help;completions' {
            break
        }
        'abrfw;help;man' {
            break
        }
        'abrfw;help;explain' {
            break
        }
        'abrfw;help;query' {
            break
        }
        'abrfw;help;logs' {
            break
        }
        'abrfw;help;graph' {
            break
        }
        'abrfw;help;schema' {
            break
        }
        'abrfw;help;inventory' {
            break
        }
        'abrfw;help;verify' {
            break
        }
        'abrfw;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
