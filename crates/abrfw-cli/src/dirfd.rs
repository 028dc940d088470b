//! Directory-handle-relative file operations for the output tree: every path below DIR is
//! reached from an open handle of its parent directory, one component at a time, with
//! `O_NOFOLLOW`, so a symbolic link planted anywhere below DIR is refused instead of followed,
//! and a link swapped in between two operations cannot redirect the second one (no
//! check-then-use). Types and sizes come from `fstat` on the opened descriptor, so a FIFO, a
//! device or a 4 GB sparse file is refused or compared by size before a byte is read.
//!
//! Built on `rustix` (already in the build through `tempfile`): safe wrappers for `openat`,
//! `mkdirat`, `renameat`, `unlinkat`, `fstat` and `flock`. `cap-std` was the other candidate,
//! but its sandbox follows links that stay inside the directory, while the tree wants no links
//! at all, and it has no `flock`.
//!
//! The tree logic ([`crate::tree`]) decides what to do; this layer only does it, one syscall
//! per method, and names the full path in every error.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

/// Prefix of abrfw's temporary files: `.abrfw-tmp-<pid>-<n>`. Host names cannot start with a
/// dot, so none is a host's file; the sweep removes only names of exactly this shape.
pub const TEMP_PREFIX: &str = ".abrfw-tmp-";

/// Temporary files this process created and has neither renamed nor removed. While any is
/// left, [`Lock`] keeps the holder's pid in the lock file when it is released, as a killed run
/// leaves it, so that the next run sweeps the tree ([`Lock::interrupted`]).
static LIVE_TEMPORARIES: AtomicU64 = AtomicU64::new(0);

/// One of this process's temporary files in a directory: `.abrfw-tmp-<pid>-<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Temporary(u64);

impl Temporary {
    /// Its file name.
    pub fn name(self) -> String {
        format!("{TEMP_PREFIX}{}-{}", std::process::id(), self.0)
    }
}

/// Whether this platform has `syncfs(2)`: temporary files are then written without an fsync
/// each and made durable together by one [`Dir::sync_filesystem`] per file system.
pub const BATCHED_SYNC: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Flags every open below DIR carries: never follow a final symbolic link, never block on a
/// FIFO or a device, never leak into a child process.
fn nofollow() -> OFlags {
    OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC
}

/// An open directory of the output tree and the path it was opened as (for messages).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What a name in a directory is, from `lstat`/`fstat` (never following a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nothing by that name.
    Missing,
    /// A directory.
    Directory,
    /// A regular file of this many bytes.
    File(u64),
}

/// The word for a file type that the tree refuses.
fn describe(t: FileType) -> &'static str {
    match t {
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO (named pipe)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Directory => "a directory",
        FileType::RegularFile => "a regular file",
        FileType::Unknown => "a file of unknown type",
    }
}

/// The refusal every non-directory, non-regular entry gets.
fn refuse(path: &Path, t: FileType) -> anyhow::Error {
    anyhow::anyhow!(
        "refusing to use {}: it is {}, and abrfw only writes real directories and regular files below the output directory; move it away, then run again",
        path.display(),
        describe(t)
    )
}

impl Dir {
    /// Opens DIR itself (DIR may be a link the user chose; what is below it may not). `None`
    /// when it does not exist.
    pub fn open_root(path: &Path) -> Result<Option<Self>> {
        match rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Some(Self {
                fd,
                path: path.to_path_buf(),
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot open {}", path.display())),
        }
    }

    /// Creates DIR (and its parents) when missing, then opens it.
    pub fn create_root(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        match Self::open_root(path)? {
            Some(d) => Ok(d),
            None => bail!("{} vanished while abrfw was opening it", path.display()),
        }
    }

    /// `self/name`, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// What `name` is, without following a link; anything but a directory, a regular file or
    /// nothing is refused with its path.
    pub fn kind(&self, name: &str) -> Result<Kind> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => Ok(Kind::Directory),
                FileType::RegularFile => Ok(Kind::File(st.st_size as u64)),
                t => Err(refuse(&self.join(name), t)),
            },
            Err(Errno::NOENT) => Ok(Kind::Missing),
            Err(e) => {
                Err(e).with_context(|| format!("cannot inspect {}", self.join(name).display()))
            }
        }
    }

    /// Opens the subdirectory `name`; `None` when it does not exist. A link or any other
    /// non-directory there is refused.
    pub fn open_dir(&self, name: &str) -> Result<Option<Self>> {
        match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | nofollow(),
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Some(Self {
                fd,
                path: self.join(name),
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => match self.kind(name)? {
                // Replaced by a directory in the meantime: refuse rather than retry.
                Kind::Missing | Kind::Directory => {
                    bail!(
                        "{} changed while abrfw was opening it",
                        self.join(name).display()
                    )
                }
                Kind::File(_) => Err(refuse(&self.join(name), FileType::RegularFile)),
            },
            Err(e) => Err(e).with_context(|| format!("cannot open {}", self.join(name).display())),
        }
    }

    /// Opens the subdirectory `name`, creating it (0755) when missing; `true` when this call
    /// created it.
    pub fn create_dir(&self, name: &str) -> Result<(Self, bool)> {
        let created = match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create {}", self.join(name).display()));
            }
        };
        match self.open_dir(name)? {
            Some(d) => Ok((d, created)),
            None => bail!(
                "{} vanished while abrfw was creating it",
                self.join(name).display()
            ),
        }
    }

    /// Opens the regular file `name` for reading without following a link and without
    /// blocking (a FIFO opens at once and is then refused by its `fstat`). Returns the file
    /// and its size; `None` when it does not exist.
    pub fn open_file(&self, name: &str) -> Result<Option<(File, u64)>> {
        let fd =
            match rustix::fs::openat(&self.fd, name, OFlags::RDONLY | nofollow(), Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => return Ok(None),
                // O_NOFOLLOW on a link: ELOOP. Name the link.
                Err(Errno::LOOP) => return Err(refuse(&self.join(name), FileType::Symlink)),
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot open {}", self.join(name).display()));
                }
            };
        let st = rustix::fs::fstat(&fd)
            .with_context(|| format!("cannot inspect {}", self.join(name).display()))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Ok(Some((File::from(fd), st.st_size as u64))),
            t => Err(refuse(&self.join(name), t)),
        }
    }

    /// Whether the regular file `name` holds exactly `expected`: `None` when it does not
    /// exist. The size is compared first, so a huge file is never read.
    pub fn same_contents(&self, name: &str, expected: &[u8]) -> Result<Option<bool>> {
        let Some((mut file, size)) = self.open_file(name)? else {
            return Ok(None);
        };
        if size != expected.len() as u64 {
            return Ok(Some(false));
        }
        let mut bytes = Vec::with_capacity(expected.len());
        (&mut file)
            .take(size + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", self.join(name).display()))?;
        Ok(Some(bytes == expected))
    }

    /// Reads the regular file `name` when it is at most `limit` bytes; `None` when it does not
    /// exist.
    pub fn read(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some((mut file, size)) = self.open_file(name)? else {
            return Ok(None);
        };
        if size > limit {
            bail!(
                "{} is {size} bytes, more than the {limit} abrfw reads there",
                self.join(name).display()
            );
        }
        let mut bytes = Vec::new();
        (&mut file)
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", self.join(name).display()))?;
        Ok(Some(bytes))
    }

    /// Writes `contents` into a new temporary file of this directory (`O_EXCL`, so it is
    /// never an existing file or link), made 0644, and returns it
    /// (`.abrfw-tmp-<pid>-<n>`). Where [`BATCHED_SYNC`] holds it is not synced: the caller
    /// makes a whole batch durable with one [`Dir::sync_filesystem`] before it renames any of
    /// them into place; elsewhere it is fsynced here. A failed write removes the temporary file.
    pub fn write_temporary(&self, contents: &[u8]) -> Result<Temporary> {
        self.write_temporary_with(|w| w.write_all(contents), !BATCHED_SYNC)
    }

    /// [`Dir::write_temporary`] with the contents written by `write`, which gets the file,
    /// and fsynced when `sync`.
    fn write_temporary_with(
        &self,
        write: impl FnOnce(&mut File) -> std::io::Result<()>,
        sync: bool,
    ) -> Result<Temporary> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let (tmp, fd) = loop {
            let tmp = Temporary(COUNTER.fetch_add(1, Ordering::Relaxed));
            match rustix::fs::openat(
                &self.fd,
                tmp.name().as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => break (tmp, fd),
                // Left by an earlier run of the same pid and not swept: take the next number.
                Err(Errno::EXIST) => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot create a temporary file in {}", self.path.display())
                    });
                }
            }
        };
        LIVE_TEMPORARIES.fetch_add(1, Ordering::SeqCst);
        let written = (|| -> std::io::Result<()> {
            let mut file = File::from(fd);
            write(&mut file)?;
            // Generated scripts are meant to be read (and run) by administrators and tools:
            // 0644, not the temporary file's 0600.
            rustix::fs::fchmod(file.as_fd(), Mode::from_raw_mode(0o644))?;
            if sync { file.sync_all() } else { Ok(()) }
        })();
        if let Err(e) = written {
            self.remove_temporary(tmp);
            return Err(e).with_context(|| {
                format!("cannot write a temporary file in {}", self.path.display())
            });
        }
        Ok(tmp)
    }

    /// Renames the temporary file `tmp` of this directory over `name` (a rename replaces a
    /// link itself, never what it points to). Readers see the old file or the new one. On
    /// failure the temporary file is removed.
    pub fn rename_temporary(&self, tmp: Temporary, name: &str) -> Result<()> {
        if let Err(e) = rustix::fs::renameat(&self.fd, tmp.name().as_str(), &self.fd, name) {
            self.remove_temporary(tmp);
            return Err(e).with_context(|| format!("cannot write {}", self.join(name).display()));
        }
        LIVE_TEMPORARIES.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    /// Removes a temporary file this run created (best effort: a temporary that could not be
    /// removed keeps the lock marked, and the next run's sweep removes it).
    pub fn remove_temporary(&self, tmp: Temporary) {
        match rustix::fs::unlinkat(&self.fd, tmp.name().as_str(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {
                LIVE_TEMPORARIES.fetch_sub(1, Ordering::SeqCst);
            }
            Err(_) => {}
        }
    }

    /// Replaces `name` atomically with what `write` writes: a temporary file
    /// ([`Dir::write_temporary`]), fsynced, then renamed over `name`. Readers see the old file
    /// or the new one.
    pub fn write_atomic_with(
        &self,
        name: &str,
        write: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<()> {
        let tmp = self.write_temporary_with(write, true)?;
        self.rename_temporary(tmp, name)
    }

    /// The device this directory is on (`st_dev`): one [`Dir::sync_filesystem`] covers every
    /// directory of the same device.
    pub fn device(&self) -> Result<u64> {
        let st = rustix::fs::fstat(&self.fd)
            .with_context(|| format!("cannot inspect {}", self.path.display()))?;
        Ok(st.st_dev)
    }

    /// Makes everything written to the file system this directory is on durable: file data
    /// and metadata, renames included (`syncfs(2)`, which also reports write-back errors since
    /// Linux 5.8). One call replaces an fsync per file and per directory; git's
    /// `core.fsyncMethod = batch` works the same way. Where [`BATCHED_SYNC`] is false (no
    /// `syncfs`), this fsyncs the directory itself only; callers then sync each file and
    /// directory as they go.
    pub fn sync_filesystem(&self) -> Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            rustix::fs::syncfs(&self.fd)
                .with_context(|| format!("cannot sync the file system of {}", self.path.display()))
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            self.sync()
        }
    }

    /// Removes the regular file `name` (`unlinkat` removes a name, never what a link points
    /// to); a missing file is fine.
    pub fn remove_file(&self, name: &str) -> Result<()> {
        match self.kind(name)? {
            Kind::Missing => return Ok(()),
            Kind::Directory => {
                bail!(
                    "refusing to remove {}: it is a directory",
                    self.join(name).display()
                )
            }
            Kind::File(_) => {}
        }
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => {
                Err(e).with_context(|| format!("cannot remove {}", self.join(name).display()))
            }
        }
    }

    /// Removes the subdirectory `name` when it is empty; `false` when it is not (someone keeps
    /// other files in it) or is gone.
    pub fn remove_empty_dir(&self, name: &str) -> bool {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR).is_ok()
    }

    /// Makes the renames and removals inside this directory durable (fsync of the directory).
    pub fn sync(&self) -> Result<()> {
        rustix::fs::fsync(&self.fd).with_context(|| format!("cannot sync {}", self.path.display()))
    }

    /// The names in this directory (not `.` and `..`), as raw bytes.
    pub fn names(&self) -> Result<Vec<Vec<u8>>> {
        let what = || format!("cannot read {}", self.path.display());
        let fd = rustix::fs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(what)?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::new(fd).with_context(what)? {
            let entry = entry.with_context(what)?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Sweeps this directory and each real subdirectory (links and other files are left
    /// alone) with [`Dir::sweep_temporaries`]: what an interrupted run may have left anywhere.
    pub fn sweep_tree(&self) -> Result<()> {
        self.sweep_temporaries()?;
        for name in self.names()? {
            let Ok(name) = std::str::from_utf8(&name) else {
                continue;
            };
            if self.kind(name).ok() == Some(Kind::Directory)
                && let Ok(Some(d)) = self.open_dir(name)
            {
                d.sweep_temporaries()?;
            }
        }
        Ok(())
    }

    /// Removes the temporary files an interrupted abrfw run left here: only names of exactly
    /// the shape [`Dir::write_temporary`] creates (`.abrfw-tmp-<digits>-<digits>`) that are
    /// regular files with one link, never a user's `.abrfw-notes` or a link of that name.
    pub fn sweep_temporaries(&self) -> Result<()> {
        for name in self.names()? {
            let Some(name) = std::str::from_utf8(&name).ok().filter(|n| is_temporary(n)) else {
                continue;
            };
            let Ok(st) = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_nlink == 1 {
                match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => {}
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("cannot remove {}", self.join(name).display())
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `name` is one of abrfw's temporary files: `.abrfw-tmp-<pid>-<n>`.
pub fn is_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let mut parts = rest.split('-');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// An exclusive `flock` on `DIR/<name>`, held until dropped. The file records the holder's pid
/// while it is held, so a second run can say who holds it, and is emptied when it is released,
/// unless the run leaves temporary files behind. A run killed or failed half-way thus leaves
/// its pid there, and the next run knows to sweep the tree ([`Lock::interrupted`]); after a
/// clean run the sweep, which reads every directory of the tree, is skipped.
#[derive(Debug)]
pub struct Lock {
    file: File,
    interrupted: bool,
}

impl Lock {
    /// Takes the lock, retrying every 100 ms for up to `wait`; then fails naming the holder.
    pub fn exclusive(dir: &Dir, name: &str, wait: std::time::Duration) -> Result<Self> {
        let path = dir.join(name);
        let fd = match rustix::fs::openat(
            &dir.fd,
            name,
            OFlags::RDWR | OFlags::CREATE | nofollow(),
            Mode::from_raw_mode(0o644),
        ) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => return Err(refuse(&path, FileType::Symlink)),
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        };
        let st =
            rustix::fs::fstat(&fd).with_context(|| format!("cannot inspect {}", path.display()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(refuse(&path, FileType::from_raw_mode(st.st_mode)));
        }
        let start = std::time::Instant::now();
        loop {
            match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(Errno::WOULDBLOCK | Errno::INTR) if start.elapsed() < wait => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(Errno::WOULDBLOCK) => {
                    let mut holder = String::new();
                    let _ = File::from(fd).take(64).read_to_string(&mut holder);
                    let holder = holder.trim();
                    let who = if holder.is_empty() || !holder.bytes().all(|b| b.is_ascii_digit()) {
                        "another abrfw run".to_owned()
                    } else {
                        format!("another abrfw run (pid {holder})")
                    };
                    bail!(
                        "{} is locked by {who}; waited {} s for it to finish (--lock-wait); run again when it has",
                        path.display(),
                        wait.as_secs()
                    );
                }
                Err(e) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
            }
        }
        let file = File::from(fd);
        let mut holder = Vec::new();
        (&file)
            .take(64)
            .read_to_end(&mut holder)
            .with_context(|| format!("cannot read {}", path.display()))?;
        // At offset 0: the read above moved the file position.
        file.set_len(0)
            .and_then(|()| {
                std::os::unix::fs::FileExt::write_all_at(
                    &file,
                    format!("{}\n", std::process::id()).as_bytes(),
                    0,
                )
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            file,
            interrupted: !holder.is_empty(),
        })
    }

    /// Whether the previous run did not release the lock cleanly (killed, or failed with
    /// temporary files left): its pid was still in the file. Its temporaries may be anywhere
    /// in the tree.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Empty again between runs, so a tree in git does not change with every pid; the lock
        // itself goes with the descriptor (and with the process, when it is killed). A run
        // that leaves a temporary file keeps its pid there, as a killed run does.
        if LIVE_TEMPORARIES.load(Ordering::SeqCst) == 0 {
            let _ = self.file.set_len(0);
        }
    }
}
