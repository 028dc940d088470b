#!/usr/bin/env python3
"""abrfw against Aerleon, timed in the same run (issue 21; docs/performance.md, "Against Aerleon").

    python3 benches/aerleon/run.py [--sizes 1000,10000] [--runs 5]      (or: just bench-aerleon)

Steps, all from the workspace root:
1. A virtualenv `target/aerleon-venv` with `pip install aerleon==1.18.0` (created once; 1.18.0 is
   the newest release on PyPI).
2. The benchmark's sites `target/aerleon-bench/site-N.toml`, written by the scale benchmark
   (`ABRFW_BENCH_SITES_ONLY=1 ABRFW_BENCH_KEEP=... ABRFW_BENCH_HOSTS=... cargo bench --locked -p
   abrfw-cli --bench scale`, which writes the sites and stops)
   unless present, and `cargo build --release --locked -p abrfw-cli`.
3. Per size, untimed: `abrfw compile` in both layouts, and `gen.py` on each tree for the equivalent
   Aerleon policies (one per host, one per host class); the term count is checked against the
   rules.json rule count, and after Aerleon's first run against the term chains in its output.
4. Timed, interleaved so that load from other jobs falls on every tool alike: per run, into a
   fresh output directory each time, `abrfw compile SITE --out-dir DIR`, the same with
   `--layout classes`, and `aclgen` on the per-host and on the class policies. Wall time and CPU
   time (user + system of the process and the children it waited for, from wait4). A measurement
   whose first run takes over 60 s is repeated 3 times only.
5. Prints the medians (wall, CPU, user) and the ratios Aerleon / abrfw, per host and per class.

Nothing is asserted about time.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "target" / "aerleon-venv"
WORK = ROOT / "target" / "aerleon-bench"
AERLEON = "1.18.0"
SLOW = 60.0


def run(cmd, **kw):
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def venv():
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('aerleon'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == AERLEON:
            return VENV / "bin" / "aclgen"
    run([sys.executable, "-m", "venv", str(VENV)])
    run([str(python), "-m", "pip", "install", "--quiet", f"aerleon=={AERLEON}"])
    return VENV / "bin" / "aclgen"


def sites(sizes):
    WORK.mkdir(parents=True, exist_ok=True)
    missing = [n for n in sizes if not (WORK / f"site-{n}.toml").exists()]
    if missing:
        env = dict(os.environ, ABRFW_BENCH_KEEP=str(WORK))
        env["ABRFW_BENCH_HOSTS"] = ",".join(str(n) for n in missing)
        env["ABRFW_BENCH_SITES_ONLY"] = "1"
        run(["cargo", "bench", "--locked", "-p", "abrfw-cli", "--bench", "scale"], env=env, cwd=ROOT)
    run(["cargo", "build", "--release", "--locked", "-p", "abrfw-cli"], cwd=ROOT)
    return ROOT / "target" / "release" / "abrfw"


def timed(cmd, out_dir, create):
    """Wall, user and system seconds of one run of cmd into a fresh out_dir (created first if `create`:
    aclgen wants it to exist, abrfw creates it). stderr goes to a file, shown on failure."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if create:
        out_dir.mkdir(parents=True)
    log = out_dir.parent / (out_dir.name + ".stderr")
    # Untimed: write back what earlier runs left dirty (removed trees, Aerleon's unsynced output),
    # or abrfw's syncfs would wait for another tool's data inside its own timing.
    os.sync()
    with open(log, "wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise SystemExit(f"failed ({child.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return wall, usage.ru_utime, usage.ru_stime


def aerleon_terms(out_dir):
    """Term chains (`chain r<index>-<flow>`, one per gen.py term) in Aerleon's .nft output."""
    pattern = re.compile(r"^\s*chain r[0-9]+-", re.MULTILINE)
    return sum(len(pattern.findall(f.read_text())) for f in out_dir.glob("*.nft"))


def files_in(tree):
    return sum(len(files) for _, _, files in os.walk(tree))


def size(n, abrfw, aclgen, runs):
    site = WORK / f"site-{n}.toml"
    base = WORK / str(n)
    shutil.rmtree(base, ignore_errors=True)
    gen = ROOT / "benches" / "aerleon" / "gen.py"
    jobs = {}
    for layout, extra in (("hosts", []), ("classes", ["--layout", "classes"])):
        tree = base / f"abrfw-{layout}"
        run([str(abrfw), "compile", str(site), "--out-dir", str(tree), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pols = base / f"aerleon-{layout}"
        line = subprocess.run([sys.executable, str(gen), str(tree), str(pols)], check=True,
                              capture_output=True, text=True).stdout.strip()
        print(f"  {line}")
        rules = int(re.search(r"abrfw rules ([0-9]+)", line).group(1))
        jobs[f"abrfw {layout}"] = [str(abrfw), "compile", str(site), "--out-dir", "OUT", *extra]
        jobs[f"aerleon {layout}"] = [str(aclgen), "--base_directory", str(pols / "policies"),
                                     "--definitions_directory", str(pols / "def"),
                                     "--output_directory", "OUT"]
        jobs[f"rules {layout}"] = rules
    results = {}
    for i in range(runs):
        for name in ("abrfw hosts", "abrfw classes", "aerleon hosts", "aerleon classes"):
            samples = results.setdefault(name, [])
            if i >= 3 and samples[0][0] > SLOW:
                continue
            out = base / "out" / name.replace(" ", "-")
            cmd = [str(out) if c == "OUT" else c for c in jobs[name]]
            wall, user, system = timed(cmd, out, create=name.startswith("aerleon"))
            samples.append((wall, user + system, user))
            print(f"  {n} hosts, run {i + 1}: {name:<16} {wall:8.2f} s wall {user + system:8.2f} s CPU"
                  f" ({user:.2f} user, {system:.2f} system), load {os.getloadavg()[0]:.1f}",
                  flush=True)
            if i == 0:
                if name.startswith("aerleon"):
                    rules, chains = jobs["rules " + name.split()[1]], aerleon_terms(out)
                    print(f"    abrfw rules {rules}, Aerleon term chains {chains}, "
                          f"files {files_in(out)}")
                    if rules != chains:
                        raise SystemExit("Aerleon's output does not have one chain per rule")
                else:
                    print(f"    files {files_in(out)}")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    aclgen = venv()
    abrfw = sites(sizes)
    print(f"{os.cpu_count()} core(s), load average {os.getloadavg()[0]:.2f}, aerleon {AERLEON}")
    table = []
    for n in sizes:
        results = size(n, abrfw, aclgen, args.runs)
        med = {k: tuple(statistics.median(sample[i] for sample in v) for i in range(3)) + (len(v),)
               for k, v in results.items()}
        table.append((n, med))
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("\nmedians (runs) and ratios Aerleon / abrfw")
    for n, med in table:
        for layout in ("hosts", "classes"):
            a, b = med[f"abrfw {layout}"], med[f"aerleon {layout}"]
            print(f"  {n:>6} hosts, {layout:<7}: abrfw {a[0]:7.2f} s wall {a[1]:7.2f} s CPU "
                  f"{a[2]:7.2f} s user ({a[3]} runs), aerleon {b[0]:7.2f} s wall {b[1]:7.2f} s CPU "
                  f"{b[2]:7.2f} s user ({b[3]} runs); ratio {b[0] / a[0]:6.1f}x wall "
                  f"{b[1] / a[1]:6.1f}x CPU {b[2] / a[2]:6.1f}x user")


if __name__ == "__main__":
    main()
