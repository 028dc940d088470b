//! Fuzz target: any bytes -> topology parse -> compile -> every backend's render. Bad input
//! must be a located error (spans inside the text, a report that renders); valid input must
//! compile (twice to the same IR) and render in every backend that serves each host and
//! gateway. Any panic is a finding.
#![no_main]

use abrfw_core::{Catalog, compile, compile_gateways, topology};
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
    // Every backend of the table, for every host and gateway it serves.
    for b in &abrfw_backends::BACKENDS {
        for host in &hosts {
            b.render_host(host).expect(b.name);
        }
        for gw in &gateways {
            let files = b.render_gw(gw).expect(b.name);
            assert_eq!(files.is_some(), b.serves_gateway(gw.os), "{}", b.name);
        }
    }
});
