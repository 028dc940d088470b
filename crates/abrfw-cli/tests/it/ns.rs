//! Network-namespace primitives shared by the end-to-end tests: create, run in, enter, clean up.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;

/// Deletes the namespaces when the test ends, however it ends.
pub struct Namespaces(pub Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

/// Runs a command that must succeed.
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command inside namespace `ns`; it must succeed.
pub fn in_ns(ns: &str, args: &[&str]) {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    sh(&full);
}

/// Runs `f` on a thread that has entered network namespace `ns`.
pub fn with_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = PathBuf::from("/run/netns").join(ns);
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace fd changes only this thread's network namespace;
            // the thread ends right after `f`.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("namespace thread")
    })
}

/// Creates namespace `ns` and plugs it into bridge `bridge` of the switch namespace `sw`: a veth
/// pair, `outer` on the switch's side, `eth0` inside `ns`, both up with `lo`.
pub fn attach_to_bridge(sw: &str, ns: &str, outer: &str, bridge: &str) {
    sh(&["ip", "netns", "add", ns]);
    sh(&[
        "ip", "link", "add", outer, "netns", sw, "type", "veth", "peer", "eth0", "netns", ns,
    ]);
    in_ns(sw, &["ip", "link", "set", outer, "master", bridge, "up"]);
    in_ns(ns, &["ip", "link", "set", "lo", "up"]);
    in_ns(ns, &["ip", "link", "set", "eth0", "up"]);
}
