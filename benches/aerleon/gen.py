#!/usr/bin/env python3
"""Write an Aerleon policy set equivalent to an abrfw output tree, for the Aerleon benchmark.

    python3 benches/aerleon/gen.py TREE OUT

TREE is what `abrfw compile SITE --out-dir TREE` wrote, in either layout: every `TREE/*/rules.json`
(one per host, or one per host class under `--layout classes`) becomes one policy
`OUT/policies/pol/<dir>.pol` targeting Aerleon's `nftables` generator, with the same rules in the
same order: inbound rules in an `INPUT` filter, outbound rules in an `OUTPUT` filter, each rule one
term with its protocol, its peers as source (inbound) or destination (outbound) addresses, its
destination port range and, where abrfw has one, its source port range. The network and service
definitions the terms name go to `OUT/def/NETWORK.net` and `OUT/def/SERVICES.svc`, one definition
per distinct peer list and port range (shared between policies, as a hand-written Aerleon set would
share them). Gateways have no rules.json and get no policy.

Left out: the host's own addresses (abrfw's host rule sets do not match on them either), logging,
and abrfw's other backends (Aerleon renders the one target). `outbound = "accept"` maps to an
`OUTPUT` filter with the `ACCEPT` default; a direction without rules gets no filter (Aerleon
refuses a filter without terms); a `fragment` policy has no Aerleon equivalent and is refused.

Prints one line: the layout, the number of policies, abrfw's rule count (the `rules` entries of
the rules.json files) and the number of terms written. Standard library only.
"""

import hashlib
import json
import re
import sys
from pathlib import Path


def term_name(index, flow):
    """`r<index>-<flow>`, in the characters Aerleon accepts in a term name."""
    return f"r{index}-" + re.sub(r"[^a-z0-9-]+", "-", flow.lower()).strip("-")


def ports(span):
    """`first` or `first-last`, Aerleon's service syntax without the protocol."""
    if span["first"] == span["last"]:
        return str(span["first"])
    return f"{span['first']}-{span['last']}"


class Definitions:
    """Network and service definitions, one per distinct content, named after it."""

    def __init__(self):
        self.networks = {}
        self.services = {}

    def network(self, addresses):
        key = tuple(addresses)
        name = self.networks.get(key)
        if name is None:
            digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:12]
            name = f"NET_{digest.upper()}"
            self.networks[key] = name
        return name

    def service(self, protocol, span):
        key = (protocol, ports(span))
        name = self.services.get(key)
        if name is None:
            name = f"{protocol.upper()}_{key[1].replace('-', '_')}"
            self.services[key] = name
        return name

    def write(self, def_dir):
        def_dir.mkdir(parents=True, exist_ok=True)
        lines = []
        for addresses, name in sorted(self.networks.items(), key=lambda item: item[1]):
            lines.append(f"{name} = {addresses[0]}")
            lines.extend(" " * (len(name) + 3) + address for address in addresses[1:])
            lines.append("")
        (def_dir / "NETWORK.net").write_text("\n".join(lines))
        lines = []
        for (protocol, span), name in sorted(self.services.items(), key=lambda item: item[1]):
            lines.append(f"{name} = {span}/{protocol}")
        (def_dir / "SERVICES.svc").write_text("\n".join(lines) + "\n")


def policy(doc, defs):
    """The .pol text for one rules.json document, and its number of terms."""
    if doc.get("format") != "abrfw-rules" or doc.get("version") != 2:
        raise SystemExit(f"{doc.get('host')}: not an abrfw-rules version 2 document")
    if doc["policy"] != "drop":
        raise SystemExit(f"{doc['host']}: policy {doc['policy']!r} has no Aerleon equivalent")
    out = [f"# {doc['host']}: {doc['os']}, generated from abrfw's rules.json by gen.py", ""]
    terms = 0
    for direction, hook in (("inbound", "INPUT"), ("outbound", "OUTPUT")):
        chosen = [(i, r) for i, r in enumerate(doc["rules"]) if r["direction"] == direction]
        if not chosen:
            continue
        default = " ACCEPT" if direction == "outbound" and doc.get("outbound") == "accept" else ""
        out += ["header {", f"  target:: nftables mixed {hook}{default}", "}", ""]
        for index, rule in chosen:
            group = doc["peer_groups"][rule["peers"]]
            peers = group["ipv4"] + group["ipv6"]
            if not peers:
                raise SystemExit(f"{doc['host']}: rule {index} ({rule['flow']}) has no peers")
            side = "source" if direction == "inbound" else "destination"
            out.append(f"term {term_name(index, rule['flow'])} {{")
            out.append(f"  comment:: \"{rule['flow']}\"")
            out.append(f"  {side}-address:: {defs.network(peers)}")
            if rule["source_ports"] is not None:
                out.append(f"  source-port:: {defs.service(rule['protocol'], rule['source_ports'])}")
            out.append(
                f"  destination-port:: {defs.service(rule['protocol'], rule['destination_ports'])}"
            )
            out.append(f"  protocol:: {rule['protocol']}")
            out.append("  action:: accept")
            out.append("}")
            out.append("")
            terms += 1
    return "\n".join(out), terms


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    tree, out = Path(argv[1]), Path(argv[2])
    manifest = json.loads((tree / "abrfw.json").read_text())
    layout = manifest.get("layout", "hosts")
    pol_dir = out / "policies" / "pol"
    pol_dir.mkdir(parents=True, exist_ok=True)
    defs = Definitions()
    policies = rules = terms = 0
    for rules_json in sorted(tree.glob("*/rules.json")):
        doc = json.loads(rules_json.read_text())
        text, count = policy(doc, defs)
        (pol_dir / f"{rules_json.parent.name}.pol").write_text(text)
        policies += 1
        rules += len(doc["rules"])
        terms += count
    defs.write(out / "def")
    print(f"layout {layout}: {policies} policies, abrfw rules {rules}, aerleon terms {terms}")
    if rules != terms:
        raise SystemExit("rule count mismatch")


if __name__ == "__main__":
    main(sys.argv)
