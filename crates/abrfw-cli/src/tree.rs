//! The output tree `compile --out-dir DIR` owns: `DIR/<host>/<file>` plus the manifest
//! `DIR/abrfw.json` that lists every file abrfw wrote with its sha256.
//!
//! A run first renders everything and makes a [`Plan`] (what is added, changed, unchanged,
//! removed) without touching the disk; any refusal (or rendering error) happens then, so a
//! failing run writes nothing. The plan keeps each file's digest, not its text, so memory does not
//! grow with the output (1.4 GB for a 100,000-host site). [`Plan::apply`] then renders the
//! directories that change once more and writes each changed file atomically (temporary file,
//! fsync, rename), leaves unchanged files alone (same bytes, same mtime), removes the files of hosts that
//! left the site, syncs the directories and writes the manifest last, atomically. A run killed
//! half-way leaves every file in its old or its new complete form and the old manifest; the next
//! run finishes the job (a file that is already byte-identical to what abrfw would write is taken
//! as abrfw's even when the old manifest does not list it yet).
//!
//! abrfw never overwrites or deletes a file that its manifest does not list: it refuses with an
//! error instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use abrfw_core::topology::{MANIFEST_FILE_NAME, check_directory_name, check_name};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::write::{TEMP_PREFIX, atomic_write, sync_dir};

/// The `format` value of a manifest.
pub const MANIFEST_FORMAT: &str = "abrfw-manifest";
/// Version of the manifest shape.
pub const MANIFEST_VERSION: u32 = 1;

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
    /// Host (or gateway) directory -> file name -> sha256 of the file.
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
}

impl Manifest {
    /// The manifest of a set of rendered files.
    pub fn new(release: &str, site_text: &str, files: &[PlannedFile]) -> Self {
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
            hosts,
        }
    }

    /// The manifest as written: pretty JSON ending in a newline.
    pub fn to_text(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    /// The relative paths it lists, as `(directory, file)`.
    fn paths(&self) -> BTreeSet<(String, String)> {
        self.hosts
            .iter()
            .flat_map(|(d, files)| files.keys().map(move |f| (d.clone(), f.clone())))
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
    /// Digests `file` and compares it with `root/<dir>/<name>`. Safe to call for many files at
    /// once on several threads: it only reads.
    pub fn new(root: &Path, file: &RenderedFile) -> Result<Self> {
        // The path is checked before it is read (Plan::new checks again, with case collisions).
        check_component(&file.dir, true)?;
        check_component(&file.name, false)?;
        let path = root.join(&file.dir).join(&file.name);
        let on_disk = match std::fs::read(&path) {
            Ok(bytes) if bytes == file.text.as_bytes() => OnDisk::Same,
            Ok(_) => OnDisk::Different,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => OnDisk::Missing,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
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
    dir: PathBuf,
    files: Vec<(PlannedFile, Change)>,
    removed: Vec<(String, String)>,
    manifest_text: String,
    manifest_change: Change,
}

impl Plan {
    /// Compares the rendered files with DIR and its manifest. Fails, touching nothing, when a
    /// path is unsafe or a file abrfw would write exists but is not abrfw's.
    pub fn new(dir: &Path, files: Vec<PlannedFile>, manifest: &Manifest) -> Result<Self> {
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
        let old = read_manifest(&manifest_path)?;
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
                OnDisk::Different if owned.contains(&(f.dir.clone(), f.name.clone())) => {
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

        let new_paths: BTreeSet<(String, String)> = planned
            .iter()
            .map(|(f, _)| (f.dir.clone(), f.name.clone()))
            .collect();
        let removed: Vec<(String, String)> = owned
            .difference(&new_paths)
            .filter(|(d, f)| dir.join(d).join(f).exists())
            .cloned()
            .collect();
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

        let manifest_text = manifest.to_text()?;
        let manifest_change = match std::fs::read(&manifest_path) {
            Ok(bytes) if bytes == manifest_text.as_bytes() => Change::Unchanged,
            Ok(_) => Change::Changed,
            Err(_) => Change::Added,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
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

    /// Carries the plan out; see the module documentation for the order and why. `render`
    /// renders the files of one directory again (the plan keeps digests, not texts); a file
    /// whose new rendering differs from the planned digest stops the run.
    pub fn apply(&self, render: impl Fn(&str) -> Result<Vec<RenderedFile>> + Sync) -> Result<()> {
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        dirs.insert(self.dir.clone());
        dirs.extend(self.files.iter().map(|(f, _)| self.dir.join(&f.dir)));
        dirs.extend(self.removed.iter().map(|(d, _)| self.dir.join(d)));
        // Temporary files of an earlier run that was killed before its rename.
        for d in &dirs {
            remove_stale_temporaries(d)?;
        }
        // The directories with something to write, each rendered again and written on every
        // core; the files of one directory are written in order.
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
        let written = abrfw_core::par::map(&changed, |(dir, names)| -> Result<()> {
            for file in render(dir)? {
                let Some(sha) = names.get(file.name.as_str()) else {
                    continue;
                };
                if sha256_hex(file.text.as_bytes()) != *sha {
                    bail!(
                        "{dir}/{} rendered differently the second time; nothing more was written",
                        file.name
                    );
                }
                atomic_write(&self.dir.join(dir).join(&file.name), &file.text)?;
            }
            Ok(())
        });
        for w in written {
            w?;
        }
        for (d, f) in &self.removed {
            let path = self.dir.join(d).join(f);
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
        // A departed host's directory goes too, unless someone keeps other files in it.
        let departed: BTreeSet<&String> = self.removed.iter().map(|(d, _)| d).collect();
        for d in departed {
            let _ = std::fs::remove_dir(self.dir.join(d));
        }
        // The renames and removals are durable before the manifest says they happened. Only the
        // directories something happened in: a run that changes nothing syncs nothing.
        let mut touched: BTreeSet<PathBuf> = self
            .files
            .iter()
            .filter(|(_, c)| *c != Change::Unchanged)
            .map(|(f, _)| self.dir.join(&f.dir))
            .chain(self.removed.iter().map(|(d, _)| self.dir.join(d)))
            .collect();
        if !touched.is_empty() {
            // New host directories are entries of DIR.
            touched.insert(self.dir.clone());
        }
        for d in touched.iter().filter(|d| d.is_dir()) {
            sync_dir(d)?;
        }
        if self.manifest_change != Change::Unchanged {
            atomic_write(&self.dir.join(MANIFEST_FILE_NAME), &self.manifest_text)?;
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// Reads DIR's manifest; `None` when there is none.
fn read_manifest(path: &Path) -> Result<Option<Manifest>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let not_ours = || {
        format!(
            "{} is not an abrfw manifest; refusing to write into this directory",
            path.display()
        )
    };
    // Format and version first, so a newer manifest gets a message about its version rather than
    // about a field this abrfw does not know.
    let value: serde_json::Value = serde_json::from_str(&text).with_context(not_ours)?;
    if value["format"] != MANIFEST_FORMAT {
        bail!(not_ours());
    }
    if value["version"] != MANIFEST_VERSION {
        bail!(
            "{} is an abrfw manifest of version {}; this abrfw reads and writes version {MANIFEST_VERSION}",
            path.display(),
            value["version"]
        );
    }
    let manifest: Manifest = serde_json::from_value(value).with_context(not_ours)?;
    Ok(Some(manifest))
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

/// Removes `.abrfw-*` files (abrfw's own temporary files) left in `dir` by an interrupted run.
fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let is_temp = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX);
        if is_temp && entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
