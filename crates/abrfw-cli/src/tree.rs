//! The output tree `compile --out-dir DIR` owns: `DIR/<host>/<file>` plus the manifest
//! `DIR/abrfw.json` that lists every file abrfw wrote with its sha256.
//!
//! A run first renders everything and makes a [`Plan`] (what is added, changed, unchanged,
//! removed) without touching the disk; any refusal (or rendering error) happens then, so a
//! failing run writes nothing. The plan keeps each file's digest, not its text, so memory does not
//! grow with the output (1.4 GB for a 100,000-host site). [`Plan::apply`] then renders the
//! directories that change once more and writes every changed file as a temporary file, makes
//! them all durable together (one `syncfs`, git's `core.fsyncMethod = batch` model), renames
//! them into place, leaves unchanged files alone (same bytes, same mtime), removes the files of
//! hosts that left the site, syncs once more and writes the manifest last, atomically. A run killed
//! half-way leaves every file in its old or its new complete form and the old manifest; the next
//! run finishes the job (a file that is already byte-identical to what abrfw would write is taken
//! as abrfw's even when the old manifest does not list it yet).
//!
//! abrfw never overwrites or deletes a file that its manifest does not list: it refuses with an
//! error instead. Every path below DIR is reached through [`crate::dirfd`], one directory
//! handle at a time and without following links: a symbolic link, FIFO, socket or device
//! anywhere abrfw would read, write or remove is refused while planning, before anything is
//! written. One run at a time writes a tree: [`LOCK_FILE_NAME`] is held (`flock`) from before
//! the plan until the manifest is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use abrfw_core::topology::{MANIFEST_FILE_NAME, check_directory_name, check_name};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classes::Layout;
use crate::dirfd::{BATCHED_SYNC, Dir, Kind, Lock};

/// The `format` value of a manifest.
pub const MANIFEST_FORMAT: &str = "abrfw-manifest";
/// Version of the manifest shape.
pub const MANIFEST_VERSION: u32 = 1;
/// `DIR/.abrfw.lock`: the file a writing run holds an exclusive `flock` on. It holds the
/// holder's pid while held and is empty between runs.
pub const LOCK_FILE_NAME: &str = ".abrfw.lock";
/// The largest manifest abrfw reads (a 100,000-host site's is about 40 MB).
const MAX_MANIFEST_BYTES: u64 = 512 << 20;

/// Opens DIR for a run: for `--check`, as it is (`None` when missing); for a writing run,
/// created when missing and locked, waiting up to `wait` for another run to release it.
pub fn open(dir: &Path, write: bool, wait: Duration) -> Result<(Option<Dir>, Option<Lock>)> {
    if !write {
        return Ok((Dir::open_root(dir)?, None));
    }
    let root = Dir::create_root(dir)?;
    let lock = Lock::exclusive(&root, LOCK_FILE_NAME, wait)?;
    Ok((Some(root), Some(lock)))
}

/// `DIR/abrfw.json`: what abrfw wrote into DIR, and from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// `abrfw <version>` that wrote the tree.
    pub generator: String,
    /// Id of the Acronis release whose catalog was compiled.
    pub release: String,
    /// sha256 of the topology file's bytes, lower-case hex.
    pub site_sha256: String,
    /// How DIR is laid out; left out for the per-host layout, so a per-host manifest is the
    /// same as before layouts existed.
    #[serde(default, skip_serializing_if = "Layout::is_hosts")]
    pub layout: Layout,
    /// Host (or gateway) directory -> file name -> sha256 of the file.
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
}

impl Manifest {
    /// The manifest of a set of rendered files.
    pub fn new(release: &str, site_text: &str, layout: Layout, files: &[PlannedFile]) -> Self {
        let mut hosts: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for f in files {
            hosts
                .entry(f.dir.clone())
                .or_default()
                .insert(f.name.clone(), f.sha256.clone());
        }
        Self {
            format: MANIFEST_FORMAT.to_owned(),
            version: MANIFEST_VERSION,
            generator: format!("abrfw {}", env!("CARGO_PKG_VERSION")),
            release: release.to_owned(),
            site_sha256: sha256_hex(site_text.as_bytes()),
            layout,
            hosts,
        }
    }

    /// The manifest as written: pretty JSON ending in a newline.
    pub fn to_text(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    /// The relative paths it lists, as `(directory, file)`, borrowed (a 100,000-host
    /// manifest lists 340,000 paths: copies would cost tens of megabytes).
    fn paths(&self) -> BTreeSet<(&str, &str)> {
        self.hosts
            .iter()
            .flat_map(|(d, files)| files.keys().map(move |f| (d.as_str(), f.as_str())))
            .collect()
    }
}

/// One file of the tree, rendered in memory: `DIR/<dir>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// The host's or gateway's directory (its name).
    pub dir: String,
    /// File name inside it.
    pub name: String,
    /// Contents.
    pub text: String,
}

/// A rendered file as the planner keeps it: where it goes, its digest, and how it compares with
/// the file at that path now. The text itself is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The host's or gateway's directory (its name).
    pub dir: String,
    /// File name inside it.
    pub name: String,
    /// sha256 of the new contents, lower-case hex.
    pub sha256: String,
    on_disk: OnDisk,
}

/// The file at a planned path, compared with the new contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDisk {
    Missing,
    Same,
    Different,
}

impl PlannedFile {
    /// Digests `file` and compares it with `root/<dir>/<name>` (`root` is `None` when DIR does
    /// not exist yet). Safe to call for many files at once on several threads: it only reads.
    /// A link or special file at either level is refused; a file of another size is not read.
    pub fn new(root: Option<&Dir>, file: &RenderedFile) -> Result<Self> {
        // The path is checked before it is read (Plan::new checks again, with case collisions).
        check_component(&file.dir, true)?;
        check_component(&file.name, false)?;
        let host_dir = match root {
            Some(root) => root.open_dir(&file.dir)?,
            None => None,
        };
        let on_disk = match host_dir {
            Some(d) => match d.same_contents(&file.name, file.text.as_bytes())? {
                Some(true) => OnDisk::Same,
                Some(false) => OnDisk::Different,
                None => OnDisk::Missing,
            },
            None => OnDisk::Missing,
        };
        Ok(Self {
            dir: file.dir.clone(),
            name: file.name.clone(),
            sha256: sha256_hex(file.text.as_bytes()),
            on_disk,
        })
    }
}

/// What a run does to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// The file does not exist yet.
    Added,
    /// The file exists with other contents.
    Changed,
    /// The file has exactly the new contents; it is not touched.
    Unchanged,
    /// The file belonged to a host that left the site (or a backend no longer selected).
    Removed,
}

impl Change {
    /// The word `--check` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
            Change::Removed => "removed",
        }
    }
}

/// Everything a run would do to DIR, decided before anything is written.
#[derive(Debug)]
pub struct Plan {
    files: Vec<(PlannedFile, Change)>,
    removed: Vec<(String, String)>,
    manifest_text: String,
    manifest_change: Change,
}

impl Plan {
    /// Compares the rendered files with DIR and its manifest. Fails, touching nothing, when a
    /// path is unsafe or a file abrfw would write exists but is not abrfw's.
    pub fn new(
        dir: &Path,
        root: Option<&Dir>,
        files: Vec<PlannedFile>,
        manifest: Manifest,
    ) -> Result<Self> {
        // The new manifest as text, and the old one compared with it, before the old one is
        // parsed: each of them is 40 MB for a 100,000-host tree, so none is kept longer than
        // needed.
        let manifest_text = manifest.to_text()?;
        drop(manifest);
        let mut seen = BTreeMap::new();
        for f in &files {
            check_component(&f.dir, true)?;
            check_component(&f.name, false)?;
            // Two paths differing only in case are one file on Windows and macOS checkouts.
            let key = format!("{}/{}", f.dir, f.name).to_ascii_lowercase();
            if let Some(other) = seen.insert(key, format!("{}/{}", f.dir, f.name)) {
                bail!(
                    "{other} and {}/{} differ only in case; they would be one file on a case-insensitive file system",
                    f.dir,
                    f.name
                );
            }
        }
        let manifest_path = dir.join(MANIFEST_FILE_NAME);
        let old_text = match root {
            Some(root) => root.read(MANIFEST_FILE_NAME, MAX_MANIFEST_BYTES)?,
            None => None,
        };
        let old = old_text
            .as_deref()
            .map(|t| read_manifest(&manifest_path, t))
            .transpose()?;
        let manifest_change = match old_text {
            Some(bytes) if bytes == manifest_text.as_bytes() => Change::Unchanged,
            Some(_) => Change::Changed,
            None => Change::Added,
        };
        let owned = old.as_ref().map(Manifest::paths).unwrap_or_default();
        for (d, f) in &owned {
            // A manifest edited to name `../x` must not make abrfw delete outside DIR.
            check_component(d, true)
                .and_then(|()| check_component(f, false))
                .with_context(|| format!("{} lists an unsafe path", manifest_path.display()))?;
        }

        let mut planned = Vec::with_capacity(files.len());
        let mut refused = Vec::new();
        for f in files {
            let change = match f.on_disk {
                OnDisk::Same => Change::Unchanged,
                OnDisk::Different if owned.contains(&(f.dir.as_str(), f.name.as_str())) => {
                    Change::Changed
                }
                OnDisk::Different => {
                    refused.push(dir.join(&f.dir).join(&f.name).display().to_string());
                    Change::Changed
                }
                OnDisk::Missing => Change::Added,
            };
            planned.push((f, change));
        }
        if !refused.is_empty() {
            bail!(
                "refusing to overwrite {} file(s) that abrfw did not write (not listed in {}): {}\nmove them out of {} or delete them, then run again",
                refused.len(),
                manifest_path.display(),
                refused.join(", "),
                dir.display()
            );
        }

        let new_paths: BTreeSet<(&str, &str)> = planned
            .iter()
            .map(|(f, _)| (f.dir.as_str(), f.name.as_str()))
            .collect();
        // What is still there of the departed files, checked like the written ones: a link or
        // a FIFO put in their place is refused, not removed or followed.
        let mut removed = Vec::new();
        if let Some(root) = root {
            let mut open: BTreeMap<&str, Option<Dir>> = BTreeMap::new();
            for (d, f) in owned.difference(&new_paths) {
                if !open.contains_key(d) {
                    open.insert(d, root.open_dir(d)?);
                }
                if let Some(host_dir) = &open[d]
                    && host_dir.kind(f)? != Kind::Missing
                {
                    removed.push(((*d).to_owned(), (*f).to_owned()));
                }
            }
        }
        // A host renamed only in case (`NAS` -> `nas`): on a case-insensitive file system the old
        // file and the new one are the same, and removing the old would delete the new.
        for (d, f) in &removed {
            if let Some(new) = seen.get(&format!("{d}/{f}").to_ascii_lowercase()) {
                bail!(
                    "{new} would replace {d}/{f}, which differs only in case; remove {} first, then run again",
                    dir.join(d).display()
                );
            }
        }

        drop(new_paths);
        drop(owned);
        drop(old);
        Ok(Self {
            files: planned,
            removed,
            manifest_text,
            manifest_change,
        })
    }

    /// Every path that would change, relative to DIR, sorted, with what would happen to it.
    pub fn changes(&self) -> Vec<(String, Change)> {
        let mut list: Vec<(String, Change)> = self
            .files
            .iter()
            .filter(|(_, c)| *c != Change::Unchanged)
            .map(|(f, c)| (format!("{}/{}", f.dir, f.name), *c))
            .chain(
                self.removed
                    .iter()
                    .map(|(d, f)| (format!("{d}/{f}"), Change::Removed)),
            )
            .collect();
        if self.manifest_change != Change::Unchanged {
            list.push((MANIFEST_FILE_NAME.to_owned(), self.manifest_change));
        }
        list.sort();
        list
    }

    /// How many files of the new tree fall under each change.
    pub fn count(&self, change: Change) -> usize {
        match change {
            Change::Removed => self.removed.len(),
            _ => self.files.iter().filter(|(_, c)| *c == change).count(),
        }
    }

    /// Carries the plan out into `root` (DIR, opened and locked by [`open`]); see the module
    /// documentation for the order and why. `render` renders the files of one directory again
    /// (the plan keeps digests, not texts); a file whose new rendering differs from the planned
    /// digest stops the run.
    pub fn apply(
        &self,
        root: &Dir,
        render: impl Fn(&str) -> Result<Vec<RenderedFile>> + Sync,
    ) -> Result<()> {
        let names: BTreeSet<&str> = self
            .files
            .iter()
            .map(|(f, _)| f.dir.as_str())
            .chain(self.removed.iter().map(|(d, _)| d.as_str()))
            .collect();
        // Temporary files of an earlier run that was killed before its rename.
        root.sweep_temporaries()?;
        for name in &names {
            if let Some(d) = root.open_dir(name)? {
                d.sweep_temporaries()?;
            }
        }
        // The directories with something to write, with the digest each file must have.
        let mut changed: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        for (f, change) in &self.files {
            if *change != Change::Unchanged {
                changed
                    .entry(f.dir.as_str())
                    .or_default()
                    .insert(f.name.as_str(), f.sha256.as_str());
            }
        }
        let changed: Vec<(&str, BTreeMap<&str, &str>)> = changed.into_iter().collect();

        // 1. Every new file as a temporary file next to its final name, on every core. Nothing
        //    has replaced anything yet: a failure here removes what this run created.
        let staged =
            abrfw_core::par::map(&changed, |(dir, names)| stage(root, dir, names, &render));
        let mut ok = Vec::with_capacity(staged.len());
        let mut failure = None;
        for s in staged {
            match s {
                Ok(s) => ok.push(s),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            for s in &ok {
                s.discard(root);
            }
            return Err(e);
        }
        let staged = ok;

        // 2. All of them durable together, before any is renamed: one syncfs per file system
        //    (normally one) instead of one fsync per file.
        let root_device = root.device()?;
        let mut devices: BTreeMap<u64, &str> = BTreeMap::new();
        for s in &staged {
            if s.device != root_device {
                devices.entry(s.device).or_insert(s.dir);
            }
        }
        let sync_all = || -> Result<()> {
            if !BATCHED_SYNC {
                return Ok(());
            }
            root.sync_filesystem()?;
            // A host directory that is a mount point of another file system.
            for dir in devices.values() {
                match root.open_dir(dir)? {
                    Some(d) => d.sync_filesystem()?,
                    None => bail!(
                        "{} vanished while abrfw was writing it",
                        root.join(dir).display()
                    ),
                }
            }
            Ok(())
        };
        if !staged.is_empty() {
            sync_all()?;
        }

        // 3. The renames, directory by directory on every core. A run killed here leaves each
        //    file in its old or its new complete form (and the old manifest).
        let switch = KillSwitch::from_env();
        let renamed = abrfw_core::par::map(&staged, |s| -> Result<()> {
            let Some(host_dir) = root.open_dir(s.dir)? else {
                bail!(
                    "{} vanished while abrfw was writing it",
                    root.join(s.dir).display()
                );
            };
            for (tmp, name) in &s.temporaries {
                host_dir.rename_temporary(tmp, name)?;
                switch.renamed();
            }
            if !BATCHED_SYNC {
                host_dir.sync()?;
            }
            Ok(())
        });
        for r in renamed {
            r?;
        }
        let mut departed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (d, f) in &self.removed {
            departed.entry(d).or_default().push(f);
        }
        for (d, files) in &departed {
            let Some(host_dir) = root.open_dir(d)? else {
                continue;
            };
            for f in files {
                host_dir.remove_file(f)?;
            }
            if !BATCHED_SYNC {
                host_dir.sync()?;
            }
            // A departed host's directory goes too, unless someone keeps other files in it.
            if !self.files.iter().any(|(f, _)| f.dir == *d) {
                root.remove_empty_dir(d);
            }
        }
        // 4. The renames, removals and new host directories durable before the manifest says
        //    they happened: one more syncfs. A run that changes nothing syncs nothing.
        if !changed.is_empty() || !departed.is_empty() {
            sync_all()?;
            if !BATCHED_SYNC {
                root.sync()?;
            }
        }
        // 5. The manifest last, on its own: fsynced, renamed, DIR fsynced.
        if self.manifest_change != Change::Unchanged {
            root.write_atomic(MANIFEST_FILE_NAME, self.manifest_text.as_bytes())?;
            root.sync()?;
        }
        Ok(())
    }
}

/// One directory's new files, written as temporary files and not yet renamed.
struct Staged<'a> {
    dir: &'a str,
    /// Whether this run created the directory (removed again if the run fails before renaming).
    created: bool,
    device: u64,
    /// Temporary name -> final name.
    temporaries: Vec<(String, &'a str)>,
}

impl Staged<'_> {
    /// Removes the temporary files (and the directory, when this run created it and it is
    /// empty again): the state before the run.
    fn discard(&self, root: &Dir) {
        if let Ok(Some(d)) = root.open_dir(self.dir) {
            for (tmp, _) in &self.temporaries {
                d.remove_temporary(tmp);
            }
        }
        if self.created {
            root.remove_empty_dir(self.dir);
        }
    }
}

/// Renders directory `dir` again and writes each file of `names` (name -> planned digest) as a
/// temporary file in it. On failure, what it wrote is removed again.
fn stage<'a>(
    root: &Dir,
    dir: &'a str,
    names: &BTreeMap<&'a str, &'a str>,
    render: &(impl Fn(&str) -> Result<Vec<RenderedFile>> + Sync),
) -> Result<Staged<'a>> {
    let (host_dir, created) = root.create_dir(dir)?;
    let mut staged = Staged {
        dir,
        created,
        device: host_dir.device()?,
        temporaries: Vec::with_capacity(names.len()),
    };
    let result = (|| -> Result<()> {
        for file in render(dir)? {
            let Some((name, sha)) = names.get_key_value(file.name.as_str()) else {
                continue;
            };
            if sha256_hex(file.text.as_bytes()) != *sha {
                bail!(
                    "{dir}/{} rendered differently the second time; nothing was written",
                    file.name
                );
            }
            let tmp = host_dir.write_temporary(file.text.as_bytes())?;
            staged.temporaries.push((tmp, name));
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(staged),
        Err(e) => {
            staged.discard(root);
            Err(e)
        }
    }
}

/// The environment variable of [`KillSwitch`].
pub const ABORT_AFTER_RENAMES_VAR: &str = "ABRFW_TEST_ABORT_AFTER_RENAMES";

/// For the killed-run test only (docs/security.md): `ABRFW_TEST_ABORT_AFTER_RENAMES=N` makes a
/// writing run abort (SIGABRT, no clean-up, like a kill) right after its N-th rename, so the
/// test interrupts a run between two renames every time rather than when a timer happens to
/// land there. Without the variable it does nothing.
struct KillSwitch {
    after: Option<usize>,
    done: std::sync::atomic::AtomicUsize,
}

impl KillSwitch {
    fn from_env() -> Self {
        Self {
            after: std::env::var(ABORT_AFTER_RENAMES_VAR)
                .ok()
                .and_then(|v| v.trim().parse().ok()),
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn renamed(&self) {
        if let Some(after) = self.after
            && self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= after
        {
            std::process::abort();
        }
    }
}

/// The layout of the tree in `root` (DIR) as its manifest records it; `None` when DIR or its
/// manifest does not exist yet. A manifest that is not abrfw's is refused as in [`Plan::new`].
/// Only the format, version and layout are kept (the file lists every file of the tree).
pub fn existing_layout(dir: &Path, root: Option<&Dir>) -> Result<Option<Layout>> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(default)]
        layout: Layout,
    }
    let Some(root) = root else { return Ok(None) };
    let Some(bytes) = root.read(MANIFEST_FILE_NAME, MAX_MANIFEST_BYTES)? else {
        return Ok(None);
    };
    let path = dir.join(MANIFEST_FILE_NAME);
    check_head(&path, &bytes)?;
    let head: Head = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not an abrfw manifest; refusing to write into this directory",
            path.display()
        )
    })?;
    Ok(Some(head.layout))
}

/// Refuses a manifest that is not abrfw's or of another version, before its fields are read.
fn check_head(path: &Path, bytes: &[u8]) -> Result<()> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    let not_ours = || {
        format!(
            "{} is not an abrfw manifest; refusing to write into this directory",
            path.display()
        )
    };
    let head: Head = serde_json::from_slice(bytes).with_context(not_ours)?;
    if head.format != Some(serde_json::Value::from(MANIFEST_FORMAT)) {
        bail!(not_ours());
    }
    let version = head.version.unwrap_or(serde_json::Value::Null);
    if version != MANIFEST_VERSION {
        bail!(
            "{} is an abrfw manifest of version {version}; this abrfw reads and writes version {MANIFEST_VERSION}",
            path.display(),
        );
    }
    Ok(())
}

/// Parses DIR's manifest, read from `path`.
fn read_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    // Format and version first, so a newer manifest gets a message about its version rather than
    // about a field this abrfw does not know. Then straight into the typed manifest: a
    // `serde_json::Value` of a 100,000-host manifest would take several times its 40 MB.
    check_head(path, bytes)?;
    serde_json::from_slice(bytes).with_context(|| {
        format!(
            "{} is not an abrfw manifest; refusing to write into this directory",
            path.display()
        )
    })
}

/// A path component abrfw may create: a valid name (no separator, no `..`, no leading dot) and,
/// for a directory, one that works on every file system. The core checks topology names with
/// located errors already; this guards the writer against any name that slipped through.
fn check_component(name: &str, directory: bool) -> Result<()> {
    let result = check_name(name).and_then(|()| {
        if directory {
            check_directory_name(name)
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => Ok(()),
        Err(why) => bail!("unsafe output path component {name:?}: {why}"),
    }
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
