//! The output tree `compile --out-dir DIR` owns: `DIR/<host>/<file>` plus the manifest
//! `DIR/abrfw.json` that lists every file abrfw wrote with its sha256.
//!
//! A run first renders everything, one directory at a time on every core, and makes a [`Plan`]
//! (what is added, changed, unchanged, removed) before it replaces anything: each file is
//! digested and compared with the disk, and in a writing run each file that is new or differs
//! is written at once as a temporary file next to its final name ([`DirPlan::new`]), so every
//! file is rendered once and the plan keeps digests, not texts (memory does not grow with the
//! output, 3.6 GB for a 100,000-host site). Any refusal or rendering error happens then, and
//! the temporaries are removed again: a failing run leaves DIR as it was. [`Plan::apply`] makes
//! the temporaries durable together (one `syncfs`, git's `core.fsyncMethod = batch` model),
//! renames them into place, leaves unchanged files alone (same bytes, same mtime), removes the
//! files of hosts that left the site, syncs once more and writes the manifest last, atomically.
//! A run killed half-way leaves every file in its old or its new complete form and the old
//! manifest; the next run finishes the job (a file that is already byte-identical to what abrfw
//! would write is taken as abrfw's even when the old manifest does not list it yet), and sweeps
//! the temporaries the killed run left, which it knows of because that run's pid is still in
//! [`LOCK_FILE_NAME`].
//!
//! abrfw never overwrites or deletes a file that its manifest does not list: it refuses with an
//! error instead. Every path below DIR is reached through [`crate::dirfd`], one directory
//! handle at a time and without following links: a symbolic link, FIFO, socket or device
//! anywhere abrfw would read, write or remove is refused while planning, before anything is
//! written. One run at a time writes a tree: [`LOCK_FILE_NAME`] is held (`flock`) from before
//! the plan until the manifest is written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use abrfw_core::topology::{MANIFEST_FILE_NAME, check_directory_name, check_name};
use anyhow::{Context, Result, bail};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classes::Layout;
use crate::dirfd::{BATCHED_SYNC, Dir, Kind, Lock, Temporary};

/// The `format` value of a manifest.
pub const MANIFEST_FORMAT: &str = "abrfw-manifest";
/// Version of the manifest shape.
pub const MANIFEST_VERSION: u32 = 1;
/// `DIR/.abrfw.lock`: the file a writing run holds an exclusive `flock` on. It holds the
/// holder's pid while held and is empty between runs, unless a run was killed or left
/// temporary files behind.
pub const LOCK_FILE_NAME: &str = ".abrfw.lock";
/// The largest manifest abrfw reads (a 100,000-host site's is about 40 MB).
const MAX_MANIFEST_BYTES: u64 = 512 << 20;

/// Opens DIR for a run: for `--check`, as it is (`None` when missing); for a writing run,
/// created when missing and locked, waiting up to `wait` for another run to release it. When
/// the previous writing run was interrupted (its pid is still in the lock file), the temporary
/// files it may have left are swept from DIR and its directories first; after a clean run
/// there are none, and the sweep, which reads every directory, is skipped.
pub fn open(dir: &Path, write: bool, wait: Duration) -> Result<(Option<Dir>, Option<Lock>)> {
    if !write {
        return Ok((Dir::open_root(dir)?, None));
    }
    let root = Dir::create_root(dir)?;
    let lock = Lock::exclusive(&root, LOCK_FILE_NAME, wait)?;
    if lock.interrupted() {
        root.sweep_tree()?;
    }
    Ok((Some(root), Some(lock)))
}

/// What a manifest records besides its files: the release and the site it was compiled from,
/// and the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// Id of the Acronis release whose catalog was compiled.
    pub release: String,
    /// sha256 of the topology file's bytes, lower-case hex.
    pub site_sha256: String,
    /// How DIR is laid out.
    pub layout: Layout,
}

impl ManifestHead {
    /// The head for a run on the site whose text has sha256 `site_sha256` (hex), with
    /// `release`'s catalog.
    pub fn new(release: &str, site_sha256: String, layout: Layout) -> Self {
        Self {
            release: release.to_owned(),
            site_sha256,
            layout,
        }
    }
}

/// `DIR/abrfw.json` as written: the head and every file of the tree with its sha256, as
/// pretty JSON, serialized straight from the planned files (sorted by directory and name), so
/// no map of 380,000 entries is built for a 100,000-host tree.
///
/// ```json
/// {"format": "abrfw-manifest", "version": 1, "generator": "abrfw 0.1.0", "release": "11.5",
///  "site_sha256": "…", "layout": "classes", "hosts": {"<dir>": {"<file>": "<sha256>"}}}
/// ```
///
/// `layout` is left out for the per-host layout, so a per-host manifest is the same as before
/// layouts existed.
struct ManifestOut<'a> {
    head: &'a ManifestHead,
    files: &'a [PlannedFile],
}

impl Serialize for ManifestOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        /// Directory -> its files.
        struct Hosts<'a>(&'a [PlannedFile]);
        /// File name -> sha256.
        struct Files<'a>(&'a [PlannedFile]);
        impl Serialize for Hosts<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_map(
                    self.0
                        .chunk_by(|a, b| a.dir == b.dir)
                        .map(|files| (&*files[0].dir, Files(files))),
                )
            }
        }
        impl Serialize for Files<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|f| (f.name, Hex(&f.sha256))))
            }
        }
        let classes = !self.head.layout.is_hosts();
        let mut m = s.serialize_struct("Manifest", if classes { 7 } else { 6 })?;
        m.serialize_field("format", MANIFEST_FORMAT)?;
        m.serialize_field("version", &MANIFEST_VERSION)?;
        m.serialize_field("generator", &format!("abrfw {}", env!("CARGO_PKG_VERSION")))?;
        m.serialize_field("release", &self.head.release)?;
        m.serialize_field("site_sha256", &self.head.site_sha256)?;
        if classes {
            m.serialize_field("layout", &self.head.layout)?;
        } else {
            m.skip_field("layout")?;
        }
        m.serialize_field("hosts", &Hosts(self.files))?;
        m.end()
    }
}

impl ManifestOut<'_> {
    /// Writes the manifest: pretty JSON ending in a newline. It is streamed, never held in
    /// memory (40 MB for a 100,000-host tree).
    fn write(&self, w: impl std::io::Write) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
        serde_json::to_writer_pretty(&mut w, self)?;
        std::io::Write::write_all(&mut w, b"\n")?;
        std::io::Write::flush(&mut w)
    }

    /// The sha256 of the manifest as [`ManifestOut::write`] writes it.
    fn digest(&self) -> Result<[u8; 32]> {
        struct Hashing(Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.update(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut hashing = Hashing(Sha256::new());
        self.write(&mut hashing)?;
        Ok(hashing.0.finalize().into())
    }
}

/// A sha256 written as lower-case hex.
struct Hex<'a>(&'a [u8; 32]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Serialize for Hex<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// DIR's manifest as the planner reads it back: which files abrfw wrote. The digests are
/// checked to be strings and then dropped (the planner compares contents, not digests), so a
/// 100,000-host manifest costs its paths, not its 40 MB of text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OldManifest {
    #[serde(rename = "format")]
    _format: serde::de::IgnoredAny,
    #[serde(rename = "version")]
    _version: serde::de::IgnoredAny,
    #[serde(rename = "generator")]
    _generator: String,
    #[serde(rename = "release")]
    _release: String,
    #[serde(rename = "site_sha256")]
    _site_sha256: String,
    #[serde(default)]
    layout: Layout,
    /// Directory -> the names of its files.
    hosts: BTreeMap<String, Names>,
}

/// The file names of one directory of a manifest (a map of name -> sha256 in the file).
#[derive(Debug, Default)]
struct Names(Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Names;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of file names to sha256 digests")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some((name, _)) = map.next_entry::<String, AString>()? {
                    names.push(name);
                }
                names.shrink_to_fit();
                Ok(Names(names))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Any JSON string, not kept.
#[derive(Debug)]
struct AString;

impl<'de> Deserialize<'de> for AString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sha256 as a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<AString, E> {
                Ok(AString)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// The tree abrfw wrote into DIR before this run, from its manifest: read once, before the
/// run renders anything.
#[derive(Debug)]
pub struct OldTree {
    /// The layout the manifest records.
    pub layout: Layout,
    /// sha256 of the manifest's bytes: a run that would write the same manifest leaves it.
    digest: [u8; 32],
    manifest: OldManifest,
}

impl OldTree {
    /// The tree in DIR (`root`), `None` when DIR or its manifest does not exist yet. A manifest
    /// that is not abrfw's, of another version, or that lists an unsafe path is refused.
    pub fn read(dir: &Path, root: Option<&Dir>) -> Result<Option<Self>> {
        let Some(bytes) = read_manifest_bytes(root)? else {
            return Ok(None);
        };
        let path = dir.join(MANIFEST_FILE_NAME);
        let manifest = read_manifest(&path, &bytes)?;
        for (d, names) in &manifest.hosts {
            for f in &names.0 {
                // A manifest edited to name `../x` must not make abrfw delete outside DIR.
                check_component(d, true)
                    .and_then(|()| check_component(f, false))
                    .with_context(|| format!("{} lists an unsafe path", path.display()))?;
            }
        }
        Ok(Some(Self {
            layout: manifest.layout,
            digest: Sha256::digest(&bytes).into(),
            manifest,
        }))
    }

    fn lists(&self, dir: &str, name: &str) -> bool {
        self.manifest
            .hosts
            .get(dir)
            .is_some_and(|names| names.0.iter().any(|n| n == name))
    }
}

/// One file of the tree, rendered in memory: `DIR/<dir>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// The host's or gateway's directory (its name).
    pub dir: String,
    /// File name inside it.
    pub name: &'static str,
    /// Contents.
    pub text: String,
}

/// A rendered file as the planner keeps it: where it goes, its digest, how it compares with
/// the file at that path now and, in a writing run, the temporary file that holds its new
/// contents. The text itself is dropped: about 80 bytes per file.
#[derive(Debug)]
pub struct PlannedFile {
    /// The directory, shared by its files.
    dir: Arc<str>,
    /// File name inside it.
    name: &'static str,
    /// sha256 of the new contents.
    sha256: [u8; 32],
    on_disk: OnDisk,
    /// Decided by [`Plan::new`].
    change: Change,
    /// The new contents, staged next to the final name (`None` in `--check` and for a file that
    /// is already the same).
    staged: Option<Temporary>,
}

impl PlannedFile {
    fn path(&self) -> (&str, &str) {
        (&self.dir, self.name)
    }
}

/// The file at a planned path, compared with the new contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDisk {
    Missing,
    Same,
    Different,
}

/// The planned files of one directory of the tree.
#[derive(Debug)]
pub struct DirPlan {
    name: Arc<str>,
    /// Whether this run created the directory (it goes again if the run fails before renaming).
    created: bool,
    /// The device it is on, when something was staged in it.
    device: Option<u64>,
    files: Vec<PlannedFile>,
}

impl DirPlan {
    /// Digests the rendered files of directory `dir` and compares each with `root/<dir>/<name>`
    /// (`root` is `None` when DIR does not exist yet); a link or special file at either level is
    /// refused, and a file of another size is not read. With `stage` (a writing run, DIR open and
    /// locked), each file that is missing or differs is written now as a temporary file next to
    /// its final name, creating the directory when needed, so that a run renders every file once;
    /// nothing is renamed until [`Plan::apply`], and [`Plan::new`] removes the temporaries again
    /// when it refuses. Safe to call for many directories at once on several threads.
    pub fn new(
        root: Option<&Dir>,
        stage: bool,
        dir: &str,
        files: Vec<RenderedFile>,
    ) -> Result<Self> {
        // The path is checked before it is read (Plan::new checks again, with case collisions).
        check_component(dir, true)?;
        let mut plan = Self {
            name: Arc::from(dir),
            created: false,
            device: None,
            files: Vec::with_capacity(files.len()),
        };
        let mut host_dir = match root {
            Some(root) => root.open_dir(dir)?,
            None => None,
        };
        let result = (|| -> Result<()> {
            for file in &files {
                if file.dir != dir {
                    bail!("{}/{} rendered for directory {dir}", file.dir, file.name);
                }
                check_component(file.name, false)?;
                let bytes = file.text.as_bytes();
                let on_disk = match &host_dir {
                    Some(d) => match d.same_contents(file.name, bytes)? {
                        Some(true) => OnDisk::Same,
                        Some(false) => OnDisk::Different,
                        None => OnDisk::Missing,
                    },
                    None => OnDisk::Missing,
                };
                let staged = match (stage, on_disk, root) {
                    (true, OnDisk::Missing | OnDisk::Different, Some(root)) => {
                        let d = match &mut host_dir {
                            Some(d) => d,
                            None => {
                                let (d, created) = root.create_dir(dir)?;
                                plan.created = created;
                                host_dir.insert(d)
                            }
                        };
                        if plan.device.is_none() {
                            plan.device = Some(d.device()?);
                        }
                        Some(d.write_temporary(bytes)?)
                    }
                    _ => None,
                };
                plan.files.push(PlannedFile {
                    dir: plan.name.clone(),
                    name: file.name,
                    sha256: Sha256::digest(bytes).into(),
                    on_disk,
                    change: Change::Added,
                    staged,
                });
            }
            Ok(())
        })();
        match (result, root) {
            (Ok(()), _) => Ok(plan),
            (Err(e), Some(root)) => {
                plan.discard(root);
                Err(e)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// Removes what this run staged here (and the directory, when this run created it and it is
    /// empty again): the state before the run.
    fn discard(&self, root: &Dir) {
        remove_staged(root, &self.files);
        if self.created {
            root.remove_empty_dir(&self.name);
        }
    }
}

/// Removes the temporary files staged for `files` (grouped by directory, as a directory's
/// files and the planner's sorted list are). Best effort: what cannot be removed keeps the lock
/// marked for the next run's sweep.
fn remove_staged(root: &Dir, files: &[PlannedFile]) {
    for files in files.chunk_by(|a, b| a.dir == b.dir) {
        if files.iter().any(|f| f.staged.is_some())
            && let Ok(Some(d)) = root.open_dir(&files[0].dir)
        {
            for tmp in files.iter().filter_map(|f| f.staged) {
                d.remove_temporary(tmp);
            }
        }
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

/// Everything a run would do to DIR, decided before anything is renamed.
#[derive(Debug)]
pub struct Plan {
    /// Sorted by directory and name.
    files: Vec<PlannedFile>,
    /// The directories this run created, and the devices of those it staged files in.
    dirs: Vec<DirPlan>,
    removed: Vec<(String, String)>,
    head: ManifestHead,
    manifest_change: Change,
}

/// Compares two strings as a case-insensitive file system would (ASCII).
fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

impl Plan {
    /// Compares the planned directories (from [`DirPlan::new`], one result per directory) with
    /// DIR and the tree its manifest describes (`old`, from [`OldTree::read`]). Fails
    /// when a directory failed to render or a path is unsafe or a file abrfw would write exists but
    /// is not abrfw's; it then removes every temporary file the run staged, so DIR is as it was.
    pub fn new(
        dir: &Path,
        root: Option<&Dir>,
        planned: Vec<Result<DirPlan>>,
        head: ManifestHead,
        old: Option<OldTree>,
    ) -> Result<Self> {
        let mut dirs = Vec::with_capacity(planned.len());
        let mut failure = None;
        for p in planned {
            match p {
                Ok(p) => dirs.push(p),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        let discard = |dirs: &[DirPlan]| {
            if let Some(root) = root {
                for d in dirs {
                    d.discard(root);
                }
            }
        };
        if let Some(e) = failure {
            discard(&dirs);
            return Err(e);
        }
        // Moved out directory by directory, each directory's list freed as it goes.
        let mut files: Vec<PlannedFile> =
            Vec::with_capacity(dirs.iter().map(|d| d.files.len()).sum());
        for d in &mut dirs {
            files.extend(std::mem::take(&mut d.files));
        }
        files.sort_unstable_by(|a, b| a.path().cmp(&b.path()));
        match Self::decide(dir, root, &mut files, &head, old) {
            Ok((removed, manifest_change)) => {
                // What the directories keep: created or staged in, for the renames and syncs.
                dirs.retain(|d| d.created || d.device.is_some());
                Ok(Self {
                    files,
                    dirs,
                    removed,
                    head,
                    manifest_change,
                })
            }
            Err(e) => {
                // The files left their directories above: their temporaries first, then the
                // directories this run created.
                if let Some(root) = root {
                    remove_staged(root, &files);
                }
                discard(&dirs);
                Err(e)
            }
        }
    }

    /// Decides each file's change and what is removed; refuses what must not be done.
    fn decide(
        dir: &Path,
        root: Option<&Dir>,
        files: &mut [PlannedFile],
        head: &ManifestHead,
        old: Option<OldTree>,
    ) -> Result<(Vec<(String, String)>, Change)> {
        for pair in files.windows(2) {
            if pair[0].path() == pair[1].path() {
                bail!(
                    "{}/{} was rendered twice; report this to the abrfw maintainers",
                    pair[0].dir,
                    pair[0].name
                );
            }
        }
        // Two paths differing only in case are one file on Windows and macOS checkouts.
        let ci_cmp = |a: (&str, &str), b: (&str, &str)| {
            cmp_ignore_case(a.0, b.0).then_with(|| cmp_ignore_case(a.1, b.1))
        };
        let mut by_case: Vec<u32> = (0..u32::try_from(files.len())?).collect();
        by_case
            .sort_unstable_by(|&a, &b| ci_cmp(files[a as usize].path(), files[b as usize].path()));
        for pair in by_case.windows(2) {
            let (a, b) = (
                files[pair[0] as usize].path(),
                files[pair[1] as usize].path(),
            );
            if ci_cmp(a, b).is_eq() {
                bail!(
                    "{}/{} and {}/{} differ only in case; they would be one file on a case-insensitive file system",
                    a.0,
                    a.1,
                    b.0,
                    b.1
                );
            }
        }

        let manifest_path = dir.join(MANIFEST_FILE_NAME);
        let manifest_change = match &old {
            Some(old) if old.digest == (ManifestOut { head, files }).digest()? => Change::Unchanged,
            Some(_) => Change::Changed,
            None => Change::Added,
        };

        let mut refused = Vec::new();
        for f in files.iter_mut() {
            f.change = match f.on_disk {
                OnDisk::Same => Change::Unchanged,
                OnDisk::Different if old.as_ref().is_some_and(|o| o.lists(&f.dir, f.name)) => {
                    Change::Changed
                }
                OnDisk::Different => {
                    refused.push(dir.join(&*f.dir).join(f.name).display().to_string());
                    Change::Changed
                }
                OnDisk::Missing => Change::Added,
            };
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

        // What is still there of the departed files, checked like the written ones: a link or
        // a FIFO put in their place is refused, not removed or followed.
        let mut removed = Vec::new();
        if let (Some(root), Some(old)) = (root, &old) {
            for (d, names) in &old.manifest.hosts {
                let mut host_dir = None;
                for f in &names.0 {
                    let key = (d.as_str(), f.as_str());
                    if files.binary_search_by(|p| p.path().cmp(&key)).is_ok() {
                        continue;
                    }
                    let host_dir = match &host_dir {
                        Some(h) => h,
                        None => host_dir.insert(root.open_dir(d)?),
                    };
                    if let Some(h) = host_dir
                        && h.kind(f)? != Kind::Missing
                    {
                        removed.push((d.clone(), f.clone()));
                    }
                }
            }
        }
        // A host renamed only in case (`NAS` -> `nas`): on a case-insensitive file system the old
        // file and the new one are the same, and removing the old would delete the new.
        for (d, f) in &removed {
            let key = (d.as_str(), f.as_str());
            if let Ok(i) = by_case.binary_search_by(|&i| ci_cmp(files[i as usize].path(), key)) {
                let (nd, nf) = files[by_case[i] as usize].path();
                bail!(
                    "{nd}/{nf} would replace {d}/{f}, which differs only in case; remove {} first, then run again",
                    dir.join(d).display()
                );
            }
        }
        Ok((removed, manifest_change))
    }

    /// Every path that would change, relative to DIR, sorted, with what would happen to it.
    pub fn changes(&self) -> Vec<(String, Change)> {
        let mut list: Vec<(String, Change)> = self
            .files
            .iter()
            .filter(|f| f.change != Change::Unchanged)
            .map(|f| (format!("{}/{}", f.dir, f.name), f.change))
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

    /// How many files the new tree has.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// How many files of the new tree fall under each change.
    pub fn count(&self, change: Change) -> usize {
        match change {
            Change::Removed => self.removed.len(),
            _ => self.files.iter().filter(|f| f.change == change).count(),
        }
    }

    /// Carries the plan out into `root` (DIR, opened and locked by [`open`], with every new
    /// file already staged by [`DirPlan::new`]); see the module documentation for the order and
    /// why.
    pub fn apply(&self, root: &Dir) -> Result<()> {
        // 1. Every staged file durable, before any is renamed: one syncfs per file system
        //    (normally one) instead of one fsync per file.
        let root_device = root.device()?;
        let mut devices: BTreeMap<u64, &str> = BTreeMap::new();
        for d in &self.dirs {
            if let Some(device) = d.device
                && device != root_device
            {
                devices.entry(device).or_insert(&d.name);
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
        let staged: Vec<&[PlannedFile]> = self
            .files
            .chunk_by(|a, b| a.dir == b.dir)
            .filter(|files| files.iter().any(|f| f.staged.is_some()))
            .collect();
        if !staged.is_empty() {
            sync_all()?;
        }

        // 2. The renames, directory by directory on every core. A run killed here leaves each
        //    file in its old or its new complete form (and the old manifest).
        let switch = KillSwitch::from_env();
        let renamed = abrfw_core::par::map(&staged, |files| -> Result<()> {
            let dir = &*files[0].dir;
            let Some(host_dir) = root.open_dir(dir)? else {
                bail!(
                    "{} vanished while abrfw was writing it",
                    root.join(dir).display()
                );
            };
            for f in *files {
                if let Some(tmp) = f.staged {
                    host_dir.rename_temporary(tmp, f.name)?;
                    switch.renamed();
                }
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
            let first = self.files.partition_point(|f| &*f.dir < *d);
            if self.files.get(first).is_none_or(|f| &*f.dir != *d) {
                root.remove_empty_dir(d);
            }
        }
        // 3. The renames, removals and new host directories durable before the manifest says
        //    they happened: one more syncfs. A run that changes nothing syncs nothing.
        if !staged.is_empty() || !departed.is_empty() {
            sync_all()?;
            if !BATCHED_SYNC {
                root.sync()?;
            }
        }
        // 4. The manifest last, on its own: fsynced, renamed, DIR fsynced.
        if self.manifest_change != Change::Unchanged {
            let manifest = ManifestOut {
                head: &self.head,
                files: &self.files,
            };
            root.write_atomic_with(MANIFEST_FILE_NAME, |file| manifest.write(file))?;
            root.sync()?;
        }
        Ok(())
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
    let Some(bytes) = read_manifest_bytes(root)? else {
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

/// DIR's manifest, `None` when DIR or the manifest does not exist yet.
fn read_manifest_bytes(root: Option<&Dir>) -> Result<Option<Vec<u8>>> {
    match root {
        Some(root) => root.read(MANIFEST_FILE_NAME, MAX_MANIFEST_BYTES),
        None => Ok(None),
    }
}

/// Parses DIR's manifest, read from `path`.
fn read_manifest(path: &Path, bytes: &[u8]) -> Result<OldManifest> {
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
    Hex(&Sha256::digest(bytes).into()).to_string()
}
