# Recipes mirror .ci/run. `just` is optional: every recipe is a plain cargo command.

# Compile the built-in example site into ./out
example:
    cargo run --locked -- compile --example --out-dir out

# The test command CI runs (system tests skip without root/nft unless ABRFW_REQUIRE_SYSTEM_TESTS=1)
test:
    cargo test --locked --workspace

# Everything CI checks, in order
ci: fmt-check clippy forbid test

fmt-check:
    cargo fmt --all --check

clippy:
    cargo clippy --locked --workspace --all-targets -- -D warnings

# Reject debug leftovers and stubs
forbid:
    ! git grep -n -I -E 'dbg!\(|todo!\(|unimplemented!\(|FIXME' -- '*.rs'

# Regenerate golden files and invalid-input messages after an intended change
bless:
    ABRFW_BLESS=1 cargo test --locked --workspace

# Regenerate docs/flows.md from the catalog
docs:
    cargo run --locked -- flows --format markdown > docs/flows.md

# Scale benchmark: 1k, 10k and 100k-host sites (ABRFW_BENCH_HOSTS=1000,20000 for others): in memory,
# then the tree writer against cp -r and --check, and the class layout's size; then abrfw against
# Aerleon at 1k and 10k hosts (bench-aerleon). docs/performance.md
bench: bench-scale bench-aerleon

# The scale benchmark alone
bench-scale:
    cargo bench --locked -p abrfw-cli --bench scale

# abrfw against Aerleon 1.18.0 in one run, 1,000 and 10,000 hosts (venv target/aerleon-venv,
# pip install aerleon==1.18.0; medians and ratios); docs/performance.md, "Against Aerleon"
bench-aerleon:
    python3 benches/aerleon/run.py

# Regenerate the committed files abrfw generates: topology JSON Schema, example-site and
# large-site diagrams, man page and shell completions (tests/it/generated.rs checks they are current)
generate: docs
    cargo run --locked -q -- schema > docs/topology.schema.json
    cargo run --locked -q -- graph --example --format svg > docs/example-site.svg
    cargo run --locked -q -- graph --example > docs/example-site.dot
    ABRFW_BLESS=1 cargo test --locked -q -p abrfw-cli --test it generated::the_large_site_diagram_is_current
    mkdir -p docs/man docs/completions
    cargo run --locked -q -- man > docs/man/abrfw.1
    cargo run --locked -q -- completions bash > docs/completions/abrfw.bash
    cargo run --locked -q -- completions zsh > docs/completions/_abrfw
    cargo run --locked -q -- completions fish > docs/completions/abrfw.fish
    cargo run --locked -q -- completions powershell > docs/completions/_abrfw.ps1
# Fuzz parse + compile + render (FUZZ_SECONDS, default 120); needs `cargo install cargo-fuzz --locked`
fuzz:
    fuzz/run ${FUZZ_SECONDS:-120}
