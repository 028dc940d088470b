# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_abrfw_global_optspecs
    string join \n h/help V/version
end

function __fish_abrfw_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_abrfw_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_abrfw_using_subcommand
    set -l cmd (__fish_abrfw_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c abrfw -n "__fish_abrfw_needs_command" -s h -l help -d 'Print help'
complete -c abrfw -n "__fish_abrfw_needs_command" -s V -l version -d 'Print version'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "compile" -d 'Compile a site topology into firewall rule sets'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "check" -d 'Validate a topology and summarise what it compiles to'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "flows" -d 'Print the flow catalog of a release'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "releases" -d 'List the built-in releases (and one loaded with --catalog)'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "services" -d 'List the site services an [[allow]] can name with `service = ...`, with their ports'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "diff" -d 'Compare a site under two releases, or two versions of a site; exit 1 when they differ'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "example" -d 'Print the built-in example topology (a starting point for your own site)'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "completions" -d 'Print a shell completion script (e.g. `abrfw completions bash > /etc/bash_completion.d/abrfw`)'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "man" -d 'Print the manual page (roff), e.g. `abrfw man > abrfw.1`'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "explain" -d 'Explain a host\'s rules: which flow, roles, phase and options made each apply, and why a port or peer has no rule'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "query" -d 'Would this connection pass? Follow it hop by hop: the initiator\'s outbound rules, each gateway between the zones, the responder\'s inbound rules; exit 0 when allowed end to end, 1 when a hop drops it, 2 on error'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "logs" -d 'Which firewall dropped it, and why? Read drop-log lines (kernel log or journal of nftables/iptables, Windows pfirewall.log, tcpdump text of pflog) and attribute each to a cause: a flow the topology does not enable, a wrong source port, a peer unknown to the site, an undocumented connection'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "graph" -d 'Draw the site\'s connection diagram: arrows from initiator to responder, grouped by zone'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "schema" -d 'Print the JSON Schema of the topology file (docs/topology.schema.json), for editors'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "inventory" -d 'Print an Ansible inventory of the site (JSON, which Ansible reads as YAML) for the playbook in contrib/ansible; see docs/config-management.md'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "verify" -d 'Compare a host\'s live firewall with its compiled rules; exit 1 when they differ'
complete -c abrfw -n "__fish_abrfw_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -s o -l out-dir -d 'Directory to write DIR/<host>/<file> into (created if missing). A host or gateway with nftables, iptables or pf files also gets DIR/<host>/apply.sh, which loads them with a timed rollback (docs/rollout.md)' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l host -d 'Print the rule set of this one host to stdout instead of writing files' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l backend -d 'Only this backend, for every host it serves (default: the backends the topology chooses for each host, `backends` or `[options] linux_backends`, else every default backend of the host\'s OS; with --host, the first of them)' -r -f -a "nftables\t'nftables.nft: a script for `nft -f`, host or gateway rules (Linux, appliance)'
iptables\t'iptables.rules and ip6tables.rules for iptables-restore / ip6tables-restore, plus ipset.rules when a peer list is long; host or gateway rules (Linux, appliance)'
netsh\t'netsh.cmd: `netsh advfirewall firewall` commands, or `netsh firewall` port openings on windows-legacy (Windows, windows-legacy)'
powershell\t'firewall.ps1: PowerShell with New-NetFirewallRule; on windows-legacy it runs netsh.cmd (Windows, windows-legacy)'
pf\t'pf.conf: an anchor for `pfctl -a abrfw -f`, host or gateway rules (FreeBSD, OpenBSD, macOS)'
json\t'rules.json: the host\'s rules as versioned data (any host with an OS; no gateway mode); schema in docs/rules.schema.json'
firewalld\t'firewalld.sh: installs policies abrfw-in/abrfw-out and their ipsets into /etc/firewalld, checks and reloads (Linux, firewalld 0.9 or later; host rules only)'
ufw\t'ufw.sh: ufw commands whose rules carry an abrfw comment, replacing only earlier abrfw rules (Linux; host rules only)'
ir\t'The compiled IR of the host as JSON (any host with an OS; printed with --host only; same as --ir)'"
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l layout -d 'How to lay out --out-dir: `hosts`, DIR/<host>/<file> for every host and gateway; or `classes`, DIR/<class>/<file> once per class of hosts with the same rules and DIR/index/hosts.json mapping each host to its class (docs/config-management.md). Default: the layout the tree in DIR has, else `hosts`' -r -f -a "hosts\t'`DIR/<host>/<file>`: every host and gateway its own directory'
classes\t'`DIR/<class>/<file>` for each host class, and `DIR/index/hosts.json`'"
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l lock-wait -d 'Seconds to wait for another abrfw run writing into --out-dir to finish (DIR/.abrfw.lock) before giving up with exit 2' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l ir -d 'Print the compiled IR of the host or gateway as JSON instead of a backend\'s files'
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -l check -d 'Write nothing; list the files a run would add, change or remove and exit 1, or exit 0 when --out-dir is current'
complete -c abrfw -n "__fish_abrfw_using_subcommand compile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand check" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand check" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand check" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand check" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand check" -l encryption -d 'Also list the flows that cross zones without encryption (from the catalog\'s encryption notes): unencrypted, depending on SMB settings, or without a vendor note'
complete -c abrfw -n "__fish_abrfw_using_subcommand check" -s h -l help -d 'Print help'
complete -c abrfw -n "__fish_abrfw_using_subcommand flows" -l release -d 'Release whose catalog to print (default: abr-11.5)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand flows" -l diff -d 'Print the difference between the catalogs of two releases instead (exit 1 when they differ), e.g. `--diff abr-11.5 ab-12.5`' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand flows" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) besides the built-in ones' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand flows" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for a terminal'
json\t'JSON array of flows'
markdown\t'The Markdown page docs/flows.md is generated from'
dot\t'Graphviz DOT: components and the flows between them'"
complete -c abrfw -n "__fish_abrfw_using_subcommand flows" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand releases" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and list it too' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand releases" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for a terminal'
json\t'JSON array of releases'
markdown\t'The releases side by side, flow by flow and role by role: the tables of docs/releases.md'"
complete -c abrfw -n "__fish_abrfw_using_subcommand releases" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand services" -l format -d 'Output format' -r -f -a "table\t'Aligned columns for a terminal'
json\t'JSON: every service with its ports and source'"
complete -c abrfw -n "__fish_abrfw_using_subcommand services" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -l from -d 'Release of the old side (default: the release its topology names)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -l to -d 'Release of the new side (default: the release its topology names)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md), to name in --from/--to' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -l format -d 'Output format' -r -f -a "text\t'Rules added, removed and changed per host, with flow ids and purposes'
json\t'The same as JSON (shape in docs/diff.md, `"version": 1`)'
unified\t'A unified diff of the files one backend (--backend) renders for each host'"
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -l backend -d 'The backend whose rendered files --format unified compares' -r -f -a "nftables\t'nftables.nft: a script for `nft -f`, host or gateway rules (Linux, appliance)'
iptables\t'iptables.rules and ip6tables.rules for iptables-restore / ip6tables-restore, plus ipset.rules when a peer list is long; host or gateway rules (Linux, appliance)'
netsh\t'netsh.cmd: `netsh advfirewall firewall` commands, or `netsh firewall` port openings on windows-legacy (Windows, windows-legacy)'
powershell\t'firewall.ps1: PowerShell with New-NetFirewallRule; on windows-legacy it runs netsh.cmd (Windows, windows-legacy)'
pf\t'pf.conf: an anchor for `pfctl -a abrfw -f`, host or gateway rules (FreeBSD, OpenBSD, macOS)'
json\t'rules.json: the host\'s rules as versioned data (any host with an OS; no gateway mode); schema in docs/rules.schema.json'
firewalld\t'firewalld.sh: installs policies abrfw-in/abrfw-out and their ipsets into /etc/firewalld, checks and reloads (Linux, firewalld 0.9 or later; host rules only)'
ufw\t'ufw.sh: ufw commands whose rules carry an abrfw comment, replacing only earlier abrfw rules (Linux; host rules only)'"
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -l color -d 'When to colour text and unified output (auto: on a terminal, unless NO_COLOR is set)' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t'Always colour'
never\t'Never colour'"
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -l example -d 'Use the built-in example site (on both sides) instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand diff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand example" -s h -l help -d 'Print help'
complete -c abrfw -n "__fish_abrfw_using_subcommand completions" -s h -l help -d 'Print help'
complete -c abrfw -n "__fish_abrfw_using_subcommand man" -s h -l help -d 'Print help'
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l host -d 'The host whose rules to explain, or a [[gateway]] whose forward rules to explain' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l port -d 'Only rules on this port; also list the flows on it that give the host no rule, and why' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l peer -d 'Only rules towards this host; also list the flows between the two that give no rule' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l format -d 'Output format' -r -f -a "text\t'Readable text'
json\t'JSON (rules as the IR has them, reasons as tagged objects)'"
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l from -d 'The initiator: a host name or an address' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l to -d 'The responder: a host name or an address' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l port -d 'The responder\'s port' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l protocol -d 'Transport protocol' -r -f -a "tcp\t'TCP'
udp\t'UDP'"
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l sport -d 'The initiator\'s source port (default: any port of its OS ephemeral range)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l family -d 'Address family, 4 or 6 (default: IPv4 when both ends have it)' -r -f -a "4\t''
6\t''"
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l format -d 'Output format' -r -f -a "text\t'Readable text'
json\t'JSON (rules as the IR has them, reasons as tagged objects)'"
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand query" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand logs" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand logs" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand logs" -l host -d 'The host or gateway that wrote the files, for lines that name none (pfirewall.log, pflog, dmesg); syslog and journal lines name their host themselves' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand logs" -l format -d 'Output format' -r -f -a "text\t'Readable text'
json\t'JSON (rules as the IR has them, reasons as tagged objects)'"
complete -c abrfw -n "__fish_abrfw_using_subcommand logs" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand logs" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -l format -d 'Output format' -r -f -a "dot\t'Graphviz DOT (`dot -Tsvg`), zones as clusters'
mermaid\t'Mermaid flowchart, zones as subgraphs'
svg\t'SVG laid out by abrfw itself, no Graphviz needed: zone frames, numbered arrows, a key'"
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -l phase -d 'Only the flows of this phase (default: the phases the topology selects)' -r -f -a "install\t'Remote installation of agents'
operate\t'Normal operation'"
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -l group -d 'One box per host, per class (hosts of one zone with the same OS and roles), or per zone (default: host, class above 40 hosts)' -r -f -a "host\t'One box per host'
class\t'One box per zone, OS and set of roles, with the host count'
zone\t'One box per zone'"
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand graph" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand schema" -s h -l help -d 'Print help'
complete -c abrfw -n "__fish_abrfw_using_subcommand inventory" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand inventory" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand inventory" -l tree -d 'The directory `compile --out-dir` wrote (must exist), recorded as the `abrfw_tree` variable, absolute' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand inventory" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand inventory" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand inventory" -s h -l help -d 'Print help'
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l release -d 'Compile under this release instead of the topology\'s `release` (see `abrfw releases`)' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l catalog -d 'Load a release catalog of your own (TOML, see docs/releases.md) and compile under it, unless --release names another release' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l host -d 'The host whose live state --live holds' -r
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l live -d 'The host\'s live state, as the backend\'s collection command prints it' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l tree -d 'A directory of collected states: DIR/<host>/<backend file> for every host' -r -F
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l backend -d 'The backend whose state --live holds (default: from the host\'s OS and the file)' -r -f -a "nftables\t'nft -j list table inet abrfw'
iptables\t'{ iptables-save; ip6tables-save; ipset save; } > iptables.live'
powershell\t'powershell.exe -NoProfile -ExecutionPolicy Bypass -File firewall.ps1 -Export > firewall.live.json'
pf\t'{ for t in $(pfctl -a abrfw -sT 2>/dev/null); do printf \'table <%s> {\' "$t"; pfctl -a abrfw -t "$t" -T show | tr -s \' \\n\' \'  \'; printf \'}\\n\'; done; pfctl -a abrfw -P -sr 2>/dev/null || pfctl -a abrfw -sr; } > pf.live'"
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l format -d 'Output format' -r -f -a "text\t'Readable text'
json\t'JSON (rules as the IR has them, reasons as tagged objects)'"
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l example -d 'Use the built-in example site instead of a file'
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -l strict -d 'Treat warnings (a host that policy "drop" may lock its administrators out of) as errors: report them and exit 2'
complete -c abrfw -n "__fish_abrfw_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "compile" -d 'Compile a site topology into firewall rule sets'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "check" -d 'Validate a topology and summarise what it compiles to'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "flows" -d 'Print the flow catalog of a release'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "releases" -d 'List the built-in releases (and one loaded with --catalog)'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "services" -d 'List the site services an [[allow]] can name with `service = ...`, with their ports'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "diff" -d 'Compare a site under two releases, or two versions of a site; exit 1 when they differ'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "example" -d 'Print the built-in example topology (a starting point for your own site)'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "completions" -d 'Print a shell completion script (e.g. `abrfw completions bash > /etc/bash_completion.d/abrfw`)'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "man" -d 'Print the manual page (roff), e.g. `abrfw man > abrfw.1`'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "explain" -d 'Explain a host\'s rules: which flow, roles, phase and options made each apply, and why a port or peer has no rule'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "query" -d 'Would this connection pass? Follow it hop by hop: the initiator\'s outbound rules, each gateway between the zones, the responder\'s inbound rules; exit 0 when allowed end to end, 1 when a hop drops it, 2 on error'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "logs" -d 'Which firewall dropped it, and why? Read drop-log lines (kernel log or journal of nftables/iptables, Windows pfirewall.log, tcpdump text of pflog) and attribute each to a cause: a flow the topology does not enable, a wrong source port, a peer unknown to the site, an undocumented connection'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "graph" -d 'Draw the site\'s connection diagram: arrows from initiator to responder, grouped by zone'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "schema" -d 'Print the JSON Schema of the topology file (docs/topology.schema.json), for editors'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "inventory" -d 'Print an Ansible inventory of the site (JSON, which Ansible reads as YAML) for the playbook in contrib/ansible; see docs/config-management.md'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "verify" -d 'Compare a host\'s live firewall with its compiled rules; exit 1 when they differ'
complete -c abrfw -n "__fish_abrfw_using_subcommand help; and not __fish_seen_subcommand_from compile check flows releases services diff example completions man explain query logs graph schema inventory verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
