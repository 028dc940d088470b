//! Fuzz target: any bytes -> topology parse -> compile -> every backend's render. Bad input
//! must be a located error (spans inside the text, a report that renders); valid input must
//! compile (twice to the same IR) and render in every backend that serves each host and
//! gateway. Any panic is a finding.
#![no_main]

use abrfw_core::{Catalog, Os, compile, compile_gateways, topology};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = Catalog::builtin();
    let topo = match topology::parse("fuzz.toml", text, &catalog) {
        Ok(topo) => topo,
        Err(e) => {
            assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                let span = d.span.clone().expect("every diagnostic is located");
                assert!(span.start <= span.end && span.end <= text.len(), "{span:?}");
            }
            let _ = e.to_string();
            return;
        }
    };
    let _ = abrfw_core::Warnings {
        path: "fuzz.toml",
        source_text: text,
        diagnostics: &topo.warnings,
    }
    .to_string();
    let (Ok(hosts), Ok(gateways)) = (compile(&catalog, &topo), compile_gateways(&catalog, &topo))
    else {
        // Only the documented size limit may refuse a valid topology.
        return;
    };
    // Deterministic: a second compile of the same topology gives the same IR.
    assert_eq!(compile(&catalog, &topo).ok().as_ref(), Some(&hosts));
    for host in &hosts {
        if host.os.is_linux() {
            abrfw_nftables::render(host, &Default::default()).expect("nftables");
            abrfw_iptables::render(host, &Default::default()).expect("iptables");
        }
        if host.os.is_windows() {
            abrfw_windows::netsh::render(host, &Default::default()).expect("netsh");
            abrfw_windows::powershell::render(host, &Default::default()).expect("powershell");
        }
        if matches!(host.os, Os::Freebsd | Os::Openbsd | Os::Macos) {
            abrfw_pf::render(host, &Default::default()).expect("pf");
        }
    }
    for gw in &gateways {
        if gw.os.is_linux() {
            abrfw_nftables::render_gateway(gw, &Default::default()).expect("nftables gateway");
            abrfw_iptables::render_gateway(gw, &Default::default()).expect("iptables gateway");
        } else {
            abrfw_pf::render_gateway(gw, &Default::default()).expect("pf gateway");
        }
    }
});
