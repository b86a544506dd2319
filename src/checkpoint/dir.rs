//! The generations directory: `gen-{generation:016x}.ckpt` files written with
//! an atomic, durable commit protocol, pruned to the newest `keep`, and read
//! back newest-first with fallback past corrupt files.
//!
//! Commit protocol (see docs/FORMAT.md, "Generations and the commit
//! protocol", for the crash analysis):
//!
//! 1. create `.gen-XXXXXX.tmp` in the same directory (same filesystem, so the
//!    rename below is atomic);
//! 2. write the whole file through a `BufWriter`, flush;
//! 3. `fsync` the temp file;
//! 4. rename it to `gen-{generation:016x}.ckpt`;
//! 5. `fsync` the directory (best effort where unsupported, e.g. WASI hosts);
//! 6. delete generations older than the newest `keep`, and stale temp files.
//!
//! A failpoint sits between every two steps (environment variable
//! `CHIWAWA_FAILPOINT`, see [`FAILPOINTS`]); it aborts the process to
//! simulate a crash at that point.
//!
//! One writer per directory is assumed (chiwawa runs one guest per
//! checkpoint directory).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::format::{read_checkpoint, read_header, Checkpoint, Header, HEADER_LEN};
use super::pages::{pack_file_name, parse_pack_file_name, referenced_packs};

/// Default number of generations kept by the CLI.
pub const DEFAULT_KEEP: u32 = 3;
/// Environment variable naming the failpoint at which [`CheckpointDir::commit`]
/// aborts the process (a testing hook).
pub const FAILPOINT_ENV: &str = "CHIWAWA_FAILPOINT";
/// Every failpoint, in the order a commit reaches them.
pub const FAILPOINTS: &[&str] = &[
    "pages-mid-write",
    "pages-after-fsync",
    "pages-after-rename",
    "before-write",
    "mid-write",
    "after-write",
    "after-fsync",
    "after-rename",
    "after-dir-fsync",
    "mid-prune",
    "mid-page-prune",
];

/// The failpoints of live migration (src/migrate), sender then receiver, in protocol order
/// (not reached by a commit: tests/migrate.rs drives them).
pub const MIGRATION_FAILPOINTS: &[&str] = &[
    "migrate-after-hello",
    "migrate-mid-precopy",
    "migrate-before-final",
    "migrate-after-final",
    "receive-mid-round",
    "receive-before-commit",
    "receive-after-commit",
];

const GEN_PREFIX: &str = "gen-";
const GEN_SUFFIX: &str = ".ckpt";
const TEMP_PREFIX: &str = ".gen-";
const TEMP_SUFFIX: &str = ".tmp";
const PACK_TEMP_PREFIX: &str = ".pack-";
const WRITE_BUFFER: usize = 1 << 20;

/// One committed generation on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationFile {
    pub generation: u64,
    pub path: PathBuf,
    /// File length in bytes at listing time.
    pub len: u64,
}

impl GenerationFile {
    /// Read and verify only the header (first 152 bytes) — for listings.
    pub fn header(&self) -> io::Result<Header> {
        let mut buf = Vec::with_capacity(HEADER_LEN);
        File::open(&self.path)?.take(HEADER_LEN as u64).read_to_end(&mut buf)?;
        Ok(read_header(&buf)?)
    }
}

/// File name of a generation: `gen-` + 16 lower-case hex digits + `.ckpt`,
/// so lexical order is numeric order.
pub fn generation_file_name(generation: u64) -> String {
    format!("{GEN_PREFIX}{generation:016x}{GEN_SUFFIX}")
}

/// The generation number of a canonical generation file name.
pub fn parse_generation_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix(GEN_PREFIX)?.strip_suffix(GEN_SUFFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn is_temp_name(name: &str) -> bool {
    // `.journal-*.tmp`: an undo journal being replaced (src/journal.rs) when a crash came.
    // Not `.migrate-*.tmp` (src/migrate): a request or marker is written while generations
    // are committed (and pruned) beside it.
    [TEMP_PREFIX, PACK_TEMP_PREFIX, ".journal-"].iter().any(|p| name.starts_with(p))
        && name.ends_with(TEMP_SUFFIX)
}

/// A directory of checkpoint generations.
#[derive(Clone, Debug)]
pub struct CheckpointDir {
    path: PathBuf,
    keep: u32,
}

/// Name of the writer-lock file in a checkpoint directory (see [`CheckpointDir::lock`]).
pub const LOCK_FILE_NAME: &str = "lock";

/// The writer lock of a checkpoint directory, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DirLock {
    file: fs::File,
    path: PathBuf,
    /// False on hosts without file locks: then only the file's removal at the end remains.
    locked: bool,
}

impl DirLock {
    /// Whether `path` still names the locked file (not removed or replaced since it was opened).
    fn is_at(&self, path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (self.file.metadata(), fs::metadata(path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            }
        }
        #[cfg(not(unix))]
        {
            path.exists()
        }
    }

    /// Removes the lock file and releases the lock (when the guest has finished and its
    /// directory is cleared: nothing of the run is left behind).
    pub fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Why [`CheckpointDir::lock`] failed.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock (its PID, if it could be read).
    Held {
        pid: Option<u32>,
    },
    Io(io::Error),
}

impl CheckpointDir {
    /// Open (creating it and its parents if needed) a generations directory
    /// that keeps the newest `keep` generations. `keep` = 0 is treated as 1:
    /// the generation just committed is never pruned. Keeping at least 2
    /// (the default is [`DEFAULT_KEEP`]) leaves a fallback if the newest file
    /// is later damaged.
    pub fn open(path: &Path, keep: u32) -> io::Result<Self> {
        fs::create_dir_all(path)?;
        Ok(CheckpointDir { path: path.to_path_buf(), keep: keep.max(1) })
    }

    /// Takes the directory's writer lock: an exclusive OS lock on `<dir>/lock` (it dies with
    /// the process: nothing stale is ever left behind) holding the holder's PID as text. With
    /// `wait`, blocks until the holder is gone; otherwise fails at once, naming the holder.
    /// Hosts without file locks (WASI preview 1) get a `DirLock` that locks nothing.
    pub fn lock(&self, wait: bool) -> Result<DirLock, LockError> {
        let path = self.path.join(LOCK_FILE_NAME);
        // A finished run removes the lock file while holding it: a run that locked the
        // removed file retries on the new one.
        loop {
            let l = self.lock_file(&path, wait)?;
            if l.locked && !l.is_at(&path) {
                continue;
            }
            if l.locked {
                let mut f = &l.file;
                f.set_len(0).map_err(LockError::Io)?;
                f.seek(io::SeekFrom::Start(0)).map_err(LockError::Io)?;
                writeln!(f, "{}", std::process::id()).map_err(LockError::Io)?;
                f.sync_data().map_err(LockError::Io)?;
            }
            return Ok(DirLock { path, ..l });
        }
    }

    fn lock_file(&self, path: &Path, wait: bool) -> Result<DirLock, LockError> {
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(LockError::Io)?;
        let holder = |f: &mut fs::File| {
            let mut s = String::new();
            let _ = f.seek(io::SeekFrom::Start(0)).and_then(|_| f.read_to_string(&mut s));
            s.trim().parse::<u32>().ok()
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) if wait => {
                log::info!(
                    "waiting for {} (held by another chiwawa run{})",
                    self.path.display(),
                    holder(&mut file).map(|p| format!(", pid {p}")).unwrap_or_default()
                );
                file.lock().map_err(LockError::Io)?;
            }
            Err(fs::TryLockError::WouldBlock) => return Err(LockError::Held { pid: holder(&mut file) }),
            Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                log::debug!("no file locks on this host: {} is not locked", self.path.display());
                return Ok(DirLock { file, path: PathBuf::new(), locked: false });
            }
            Err(fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        Ok(DirLock { file, path: PathBuf::new(), locked: true })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of generations kept after each commit.
    pub fn keep(&self) -> u32 {
        self.keep
    }

    /// Every `gen-*.ckpt` regular file, newest (highest generation) first.
    /// Temp files, archives and other names are ignored.
    pub fn list(&self) -> io::Result<Vec<GenerationFile>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(generation) = name.to_str().and_then(parse_generation_file_name) else {
                continue;
            };
            // The file may vanish between read_dir and stat (e.g. `clear`).
            let Ok(meta) = fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            out.push(GenerationFile { generation, path: entry.path(), len: meta.len() });
        }
        out.sort_by_key(|g| std::cmp::Reverse(g.generation));
        Ok(out)
    }

    /// The number for the next commit: highest existing generation + 1, or 1
    /// when the directory holds none. (Saturates at `u64::MAX`.)
    pub fn next_generation(&self) -> io::Result<u64> {
        Ok(self.list()?.first().map_or(1, |g| g.generation.saturating_add(1)))
    }

    /// Every `pack-*.pages` file: (generation, path), ascending.
    pub fn packs(&self) -> io::Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            if let Some(g) = entry.file_name().to_str().and_then(parse_pack_file_name) {
                out.push((g, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Durably writes the page pack of generation `generation` (an incremental generation's new
    /// pages, see [`super::pages`]) before the generation itself is committed: temp file →
    /// `write` → `fsync` → rename to `pack-{generation:016x}.pages` → `fsync` the directory.
    /// Only then may a generation referencing it be committed. A pack of the same number left by
    /// an earlier attempt whose generation was never committed is replaced (nothing references
    /// it: generation numbers only grow). Returns the byte count.
    pub fn write_pack(
        &self,
        generation: u64,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<u64> {
        if fs::symlink_metadata(self.path.join(generation_file_name(generation))).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("generation {generation} already exists in {}", self.path.display()),
            ));
        }
        let final_path = self.path.join(pack_file_name(generation));
        let (tmp, count) = self.write_temp(PACK_TEMP_PREFIX, write, "pages-mid-write")?;
        tmp.as_file().sync_all()?;
        failpoint("pages-after-fsync");
        tmp.persist(&final_path).map_err(|e| e.error)?;
        failpoint("pages-after-rename");
        sync_dir(&self.path)?;
        Ok(count)
    }

    /// A pack of generation `generation` written page by page, its page count known only at
    /// the end (a migration receiver writes each pre-copy round as it arrives): see
    /// [`PackWriter`]. Nothing is visible under the pack's name before
    /// [`PackWriter::finish`].
    pub fn pack_writer(&self, generation: u64, module_hash: [u8; 32]) -> io::Result<PackWriter> {
        if fs::symlink_metadata(self.path.join(generation_file_name(generation))).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("generation {generation} already exists in {}", self.path.display()),
            ));
        }
        let tmp =
            tempfile::Builder::new().prefix(PACK_TEMP_PREFIX).suffix(TEMP_SUFFIX).tempfile_in(&self.path)?;
        let header = super::pages::PackHeader { generation, pages: 0, module_hash };
        let out = BufWriter::with_capacity(WRITE_BUFFER, tmp.reopen()?);
        let mut w = PackWriter { tmp, out, generation, module_hash, pages: 0, dir: self.path.clone() };
        w.out.write_all(&header.to_bytes())?;
        Ok(w)
    }

    /// A new temp file in the directory (`prefix` + random + `.tmp`) holding what `write`
    /// produced through a `BufWriter`, flushed (not yet fsynced), and its byte count. A failing
    /// `write` removes the file. With the failpoint `mid` active, the file is first cut to half
    /// its length, as a crash in the middle of writing would leave it.
    fn write_temp(
        &self,
        prefix: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
        mid: &str,
    ) -> io::Result<(tempfile::NamedTempFile, u64)> {
        let tmp = tempfile::Builder::new().prefix(prefix).suffix(TEMP_SUFFIX).tempfile_in(&self.path)?;
        let count = {
            let mut out = Counting { inner: BufWriter::with_capacity(WRITE_BUFFER, tmp.as_file()), count: 0 };
            write(&mut out)?;
            out.inner.into_inner().map_err(|e| e.into_error())?;
            out.count
        };
        if failpoint_active(mid) {
            tmp.as_file().set_len(count / 2)?;
            failpoint(mid);
        }
        Ok((tmp, count))
    }

    /// Durably commit generation `generation`, whose bytes `write` produces.
    ///
    /// Temp file in the directory → `write` through a `BufWriter` → flush →
    /// `fsync` → rename to `gen-{generation:016x}.ckpt` → `fsync` the
    /// directory → prune. Returns the final path and the byte count.
    ///
    /// If `write` fails the temp file is removed and nothing else changes.
    /// Fails with `AlreadyExists` if that generation is already on disk (a
    /// committed generation is never overwritten). Pruning problems are
    /// logged, not returned: the new generation is durable at that point.
    pub fn commit(
        &self,
        generation: u64,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<(PathBuf, u64)> {
        let final_path = self.path.join(generation_file_name(generation));
        if fs::symlink_metadata(&final_path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", final_path.display()),
            ));
        }
        failpoint("before-write");
        let (tmp, count) = self.write_temp(TEMP_PREFIX, write, "mid-write")?;
        failpoint("after-write");
        tmp.as_file().sync_all()?;
        failpoint("after-fsync");
        tmp.persist(&final_path).map_err(|e| e.error)?;
        failpoint("after-rename");
        sync_dir(&self.path)?;
        failpoint("after-dir-fsync");
        if let Err(e) = self.prune(generation) {
            log::warn!(
                "checkpoint generation {generation} committed, but pruning {} failed: {e}",
                self.path.display()
            );
        }
        log::debug!("committed {} ({count} bytes)", final_path.display());
        Ok((final_path, count))
    }

    /// Delete generations older than the newest `keep` (counting only those
    /// not newer than `committed`, which is never deleted), then stale temp
    /// files left by interrupted commits.
    fn prune(&self, committed: u64) -> io::Result<()> {
        let mut fired = false;
        let mut first_removal = || {
            if !fired {
                fired = true;
                failpoint("mid-prune");
            }
        };
        let gens = self.list()?;
        for g in gens.iter().filter(|g| g.generation <= committed).skip(self.keep as usize) {
            match fs::remove_file(&g.path) {
                Ok(()) => log::debug!("pruned {}", g.path.display()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            first_removal();
        }
        self.remove_temp_files()?;
        first_removal();
        self.prune_packs(committed)
    }

    /// Deletes the packs (of generations up to `committed`) that no remaining generation
    /// references. A generation that cannot be read for an I/O reason stops the pruning (its
    /// references are unknown); one that is damaged does not count (it can never be restored).
    fn prune_packs(&self, committed: u64) -> io::Result<()> {
        let packs = self.packs()?;
        if packs.is_empty() {
            return Ok(());
        }
        let mut referenced = std::collections::BTreeSet::new();
        for g in self.list()? {
            let bytes = match fs::read(&g.path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            match referenced_packs(&bytes) {
                Ok(r) => referenced.extend(r),
                Err(e) => log::debug!("{} does not count for pack pruning: {e}", g.path.display()),
            }
        }
        let mut fired = false;
        for (g, path) in packs {
            if g > committed || referenced.contains(&g) {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => log::debug!("pruned {}", path.display()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            if !fired {
                fired = true;
                failpoint("mid-page-prune");
            }
        }
        if !fired {
            failpoint("mid-page-prune");
        }
        Ok(())
    }

    fn remove_temp_files(&self) -> io::Result<()> {
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            if entry.file_name().to_str().is_some_and(is_temp_name) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => log::debug!("removed stale temp file {}", entry.path().display()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Walk generations newest → oldest; return the first that parses,
    /// verifies and passes `accept` (the caller checks module identity etc.).
    /// Every rejected file is logged with `log::warn!` and returned with its
    /// reason. Only a failure to list the directory is an `Err`; an
    /// unreadable file is just rejected.
    #[allow(clippy::type_complexity)]
    pub fn latest_valid(
        &self,
        accept: impl Fn(&Checkpoint) -> Result<(), String>,
    ) -> io::Result<(Option<(GenerationFile, Checkpoint)>, Vec<(GenerationFile, String)>)> {
        let mut rejected = Vec::new();
        for g in self.list()? {
            let verdict = fs::read(&g.path)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|bytes| read_checkpoint(&bytes).map_err(|e| e.to_string()))
                .and_then(|c| {
                    if c.header.generation != g.generation {
                        Err(format!(
                            "header says generation {} but the file name says {}",
                            c.header.generation, g.generation
                        ))
                    } else {
                        accept(&c).map(|()| c)
                    }
                });
            match verdict {
                Ok(c) => return Ok((Some((g, c)), rejected)),
                Err(reason) => {
                    log::warn!("skipping checkpoint {}: {reason}", g.path.display());
                    rejected.push((g, reason));
                }
            }
        }
        Ok((None, rejected))
    }

    /// Remove every generation and temp file (the guest finished).
    pub fn clear(&self) -> io::Result<()> {
        let gens = self.list()?.into_iter().map(|g| g.path);
        for path in gens.chain(self.packs()?.into_iter().map(|(_, p)| p)) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_temp_files()?;
        sync_dir(&self.path)
    }

    /// Move every generation into a new subdirectory `archive-<unix secs>/`
    /// (`archive-<secs>-<n>/` if that exists) and return its path; stale temp
    /// files are removed. The archive is created even when there is nothing
    /// to move. Archives are invisible to [`list`](Self::list).
    pub fn archive(&self) -> io::Result<PathBuf> {
        let secs =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut archive = self.path.join(format!("archive-{secs}"));
        let mut n = 1u32;
        loop {
            match fs::create_dir(&archive) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => {
                    archive = self.path.join(format!("archive-{secs}-{n}"));
                    n += 1;
                }
                Err(e) => return Err(e),
            }
        }
        // Packs first: a generation in the archive always finds its pages beside it.
        for (g, path) in self.packs()? {
            fs::rename(&path, archive.join(pack_file_name(g)))?;
        }
        for g in self.list()? {
            let name = generation_file_name(g.generation);
            fs::rename(&g.path, archive.join(name))?;
        }
        self.remove_temp_files()?;
        sync_dir(&archive)?;
        sync_dir(&self.path)?;
        Ok(archive)
    }
}

/// Counts bytes on their way to the inner writer.
struct Counting<W: Write> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.count += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------
// Platform-specific: directory fsync
// ---------------------------------------------------------------------------

/// Make the directory's entries (the rename, the new name) durable.
///
/// * Unix: `open(dir)` + `fsync`. Errors propagate, except `EINVAL` /
///   unsupported, which some filesystems return for directories.
/// * Everything else (WASI hosts, Windows): best effort. Under
///   `wasm32-wasip1` the host may refuse to open or `fd_sync` a directory;
///   then the rename is only as durable as the host makes it. Logged at
///   debug level.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    let result = File::open(dir).and_then(|f| f.sync_all());
    match result {
        Ok(()) => Ok(()),
        Err(e)
            if !cfg!(unix)
                || matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) =>
        {
            log::debug!("directory fsync of {} not supported here ({e}); continuing", dir.display());
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A pack file being written page by page ([`CheckpointDir::pack_writer`]): a temp file until
/// [`finish`](Self::finish) writes the page count into its header, `fsync`s it, renames it to
/// `pack-{generation:016x}.pages` and `fsync`s the directory. Dropped unfinished, the temp file
/// is removed.
pub struct PackWriter {
    tmp: tempfile::NamedTempFile,
    out: BufWriter<File>,
    generation: u64,
    module_hash: [u8; 32],
    pages: u64,
    dir: PathBuf,
}

impl PackWriter {
    /// Appends one 64 KiB page (the next slot).
    pub fn page(&mut self, page: &[u8]) -> io::Result<()> {
        self.out.write_all(page)?;
        self.pages += 1;
        Ok(())
    }

    /// Makes the pack durable under its name; returns its byte count.
    pub fn finish(self) -> io::Result<u64> {
        let PackWriter { tmp, out, generation, module_hash, pages, dir } = self;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        let header = super::pages::PackHeader { generation, pages, module_hash };
        file.seek(io::SeekFrom::Start(0))?;
        file.write_all(&header.to_bytes())?;
        file.sync_all()?;
        failpoint("pages-after-fsync");
        tmp.persist(dir.join(pack_file_name(generation))).map_err(|e| e.error)?;
        sync_dir(&dir)?;
        Ok(super::pages::PACK_HEADER_LEN as u64 + pages * super::format::PAGE_SIZE as u64)
    }
}

// ---------------------------------------------------------------------------
// Failpoints (testing hook)
// ---------------------------------------------------------------------------

/// The failpoint named by `CHIWAWA_FAILPOINT`, read once per process.
fn active_failpoint() -> Option<&'static str> {
    static ACTIVE: OnceLock<Option<String>> = OnceLock::new();
    ACTIVE
        .get_or_init(|| {
            let name = std::env::var(FAILPOINT_ENV).ok().filter(|s| !s.is_empty())?;
            if !FAILPOINTS.contains(&name.as_str()) && !MIGRATION_FAILPOINTS.contains(&name.as_str()) {
                log::warn!(
                    "{FAILPOINT_ENV}={name} is not a known failpoint (known: {}, {})",
                    FAILPOINTS.join(", "),
                    MIGRATION_FAILPOINTS.join(", ")
                );
            }
            Some(name)
        })
        .as_deref()
}

fn failpoint_active(name: &str) -> bool {
    active_failpoint() == Some(name)
}

/// With this variable set (to a number of milliseconds), the active failpoint stalls that long
/// and then lets the commit go on, instead of aborting: to deliver a signal in the middle of a
/// checkpoint write in tests.
pub const FAILPOINT_STALL_ENV: &str = "CHIWAWA_FAILPOINT_STALL_MS";

/// Abort the process if `name` is the active failpoint (or stall, see [`FAILPOINT_STALL_ENV`]).
pub(crate) fn failpoint(name: &str) {
    if failpoint_active(name) {
        if let Some(ms) = std::env::var(FAILPOINT_STALL_ENV).ok().and_then(|v| v.parse::<u64>().ok()) {
            log::warn!("failpoint '{name}' reached, stalling for {ms} ms");
            std::thread::sleep(std::time::Duration::from_millis(ms));
            return;
        }
        // Through the logger (so --log-file gets it), or straight to stderr without one.
        if log::log_enabled!(log::Level::Error) {
            log::error!("failpoint '{name}' reached, aborting");
        } else {
            eprintln!("chiwawa: failpoint '{name}' reached, aborting");
        }
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::{CheckpointWriter, Header, SectionKind, FORMAT_VERSION};
    use super::*;

    use crate::test_util::tempdir;

    fn header(generation: u64) -> Header {
        Header::new(b"\0asm\x01\0\0\0", generation, generation * 1000)
    }

    fn write_checkpoint(generation: u64) -> impl FnOnce(&mut dyn Write) -> io::Result<()> {
        move |out: &mut dyn Write| {
            let mut w = CheckpointWriter::new(out, &header(generation))?;
            w.section(SectionKind::Machine, &generation.to_le_bytes())?;
            let mut mem = vec![0u8; 4 * 65536];
            mem[70_000] = generation as u8;
            w.memory_section(0, &mem, None)?;
            w.finish()?;
            Ok(())
        }
    }

    fn commit(dir: &CheckpointDir) -> u64 {
        let g = dir.next_generation().unwrap();
        let (path, len) = dir.commit(g, write_checkpoint(g)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), len);
        g
    }

    fn gens(dir: &CheckpointDir) -> Vec<u64> {
        dir.list().unwrap().iter().map(|g| g.generation).collect()
    }

    fn accept_all(_: &Checkpoint) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn names() {
        assert_eq!(generation_file_name(0x1f), "gen-000000000000001f.ckpt");
        assert_eq!(parse_generation_file_name("gen-000000000000001f.ckpt"), Some(0x1f));
        assert_eq!(parse_generation_file_name("gen-ffffffffffffffff.ckpt"), Some(u64::MAX));
        for bad in [
            "gen-1f.ckpt",
            "gen-000000000000001F.ckpt",
            "gen-000000000000001f.ckpt.tmp",
            "gen-+00000000000001f.ckpt",
            ".gen-abc.tmp",
            "archive-123",
        ] {
            assert_eq!(parse_generation_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn commit_list_and_prune() {
        for keep in [0u32, 1, 2, 3] {
            let tmp = tempdir();
            let dir = CheckpointDir::open(&tmp.path().join("a/b"), keep).unwrap();
            assert_eq!(dir.next_generation().unwrap(), 1);
            for _ in 0..5 {
                commit(&dir);
            }
            let expect: Vec<u64> = (1..=5).rev().take(keep.max(1) as usize).collect();
            assert_eq!(gens(&dir), expect, "keep {keep}");
            let list = dir.list().unwrap();
            assert!(list[0].path.ends_with("gen-0000000000000005.ckpt"));
            assert!(list.iter().all(|g| g.len > 0));
            let (best, rejected) = dir.latest_valid(accept_all).unwrap();
            assert!(rejected.is_empty());
            let (g, c) = best.unwrap();
            assert_eq!((g.generation, c.header.generation), (5, 5));
            assert_eq!(list[0].header().unwrap().generation, 5);
        }
    }

    #[test]
    fn commit_never_overwrites_and_failed_write_leaves_nothing() {
        let tmp = tempdir();
        let dir = CheckpointDir::open(tmp.path(), 3).unwrap();
        commit(&dir);
        let err = dir.commit(1, write_checkpoint(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let err = dir
            .commit(2, |w| {
                w.write_all(b"partial")?;
                Err(io::Error::other("serializer failed"))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "serializer failed");
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["gen-0000000000000001.ckpt"]);
    }

    #[test]
    fn next_generation_after_gaps_and_foreign_files() {
        let tmp = tempdir();
        let dir = CheckpointDir::open(tmp.path(), 3).unwrap();
        fs::write(tmp.path().join("notes.txt"), b"x").unwrap();
        fs::write(tmp.path().join("gen-zz.ckpt"), b"x").unwrap();
        fs::create_dir(tmp.path().join(generation_file_name(99))).unwrap();
        assert_eq!(dir.next_generation().unwrap(), 1);
        dir.commit(1, write_checkpoint(1)).unwrap();
        dir.commit(5, write_checkpoint(5)).unwrap();
        assert_eq!(dir.next_generation().unwrap(), 6);
        assert_eq!(gens(&dir), [5, 1]);
    }

    #[test]
    fn stale_temp_files_are_ignored_and_cleaned() {
        let tmp = tempdir();
        let dir = CheckpointDir::open(tmp.path(), 3).unwrap();
        let stale = tmp.path().join(".gen-abc123.tmp");
        fs::write(&stale, b"half a checkpoint").unwrap();
        assert!(dir.list().unwrap().is_empty());
        assert_eq!(dir.next_generation().unwrap(), 1);
        let (best, rejected) = dir.latest_valid(accept_all).unwrap();
        assert!(best.is_none() && rejected.is_empty());
        commit(&dir);
        assert!(!stale.exists());
    }

    /// Corrupt the newest generation in `how`, check that latest_valid falls
    /// back to the previous one and reports the damaged file with `reason`.
    fn assert_falls_back(how: &str, corrupt: impl Fn(&mut Vec<u8>), reason: &str) {
        let tmp = tempdir();
        let dir = CheckpointDir::open(tmp.path(), 3).unwrap();
        commit(&dir);
        commit(&dir);
        let newest = dir.list().unwrap()[0].path.clone();
        let mut bytes = fs::read(&newest).unwrap();
        corrupt(&mut bytes);
        fs::write(&newest, &bytes).unwrap();
        let (best, rejected) = dir.latest_valid(accept_all).unwrap();
        assert_eq!(best.unwrap().0.generation, 1, "{how}");
        assert_eq!(rejected.len(), 1, "{how}");
        assert_eq!(rejected[0].0.generation, 2, "{how}");
        assert!(
            rejected[0].1.contains(reason),
            "{how}: reason {:?} should contain {reason:?}",
            rejected[0].1
        );
    }

    #[test]
    fn latest_valid_skips_damaged_newest() {
        assert_falls_back("truncated", |b| b.truncate(b.len() / 2), "truncated in section 1 (Memory)");
        assert_falls_back(
            "truncated at the end section",
            |b| b.truncate(b.len() - 28),
            "missing end section",
        );
        assert_falls_back("header bit flip", |b| b[60] ^= 4, "CRC mismatch in header");
        assert_falls_back(
            "payload bit flip",
            |b| b[180 + 16 + 28 + 8 + 100] ^= 1, // page data of section 1
            "CRC mismatch in section 1 (Memory)",
        );
        assert_falls_back(
            "CRC trailer bit flip",
            |b| b[176] ^= 0x80, // section 0's trailer: 152 + 16 + 8
            "CRC mismatch in section 0 (Machine)",
        );
        assert_falls_back("empty", |b| b.clear(), "empty file");
        assert_falls_back(
            "garbage",
            |b| {
                for (i, x) in b.iter_mut().enumerate() {
                    *x = (i * 31 % 251) as u8;
                }
            },
            "bad magic",
        );
        assert_falls_back(
            "other format version",
            |b| {
                b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
                let crc = crc32fast::hash(&b[..148]);
                b[148..152].copy_from_slice(&crc.to_le_bytes());
            },
            "unsupported format version 3",
        );
        assert_falls_back(
            "header field changed and header CRC fixed up",
            |b| {
                b[72] ^= 1; // instructions
                let crc = crc32fast::hash(&b[..148]);
                b[148..152].copy_from_slice(&crc.to_le_bytes());
            },
            "CRC chain",
        );
        assert_falls_back(
            "renamed generation",
            |b| {
                // A valid checkpoint of generation 9 under the name of 2.
                let mut w = Vec::new();
                write_checkpoint(9)(&mut w).unwrap();
                *b = w;
            },
            "header says generation 9",
        );
    }

    #[test]
    fn latest_valid_applies_accept_and_reports_all_rejects() {
        let tmp = tempdir();
        let dir = CheckpointDir::open(tmp.path(), 5).unwrap();
        for _ in 0..4 {
            commit(&dir);
        }
        let (best, rejected) =
            dir.latest_valid(|c| {
                if c.header.generation > 2 {
                    Err("module hash differs".into())
                } else {
                    Ok(())
                }
            })
            .unwrap();
        assert_eq!(best.unwrap().0.generation, 2);
        let r: Vec<_> = rejected.iter().map(|(g, why)| (g.generation, why.as_str())).collect();
        assert_eq!(r, [(4, "module hash differs"), (3, "module hash differs")]);
        let (best, rejected) = dir.latest_valid(|_| Err("no".into())).unwrap();
        assert!(best.is_none());
        assert_eq!(rejected.len(), 4);
    }

    #[test]
    fn clear_and_archive() {
        let tmp = tempdir();
        let dir = CheckpointDir::open(tmp.path(), 3).unwrap();
        commit(&dir);
        commit(&dir);
        fs::write(tmp.path().join(".gen-x.tmp"), b"").unwrap();
        let archive = dir.archive().unwrap();
        assert!(dir.list().unwrap().is_empty());
        let archived = CheckpointDir::open(&archive, 3).unwrap();
        assert_eq!(gens(&archived), [2, 1]);
        assert!(!tmp.path().join(".gen-x.tmp").exists());
        // A second archive in the same second gets a distinct name.
        commit(&dir);
        let second = dir.archive().unwrap();
        assert_ne!(second, archive);
        assert_eq!(gens(&CheckpointDir::open(&second, 3).unwrap()), [1]);
        // clear
        commit(&dir);
        commit(&dir);
        fs::write(tmp.path().join(".gen-y.tmp"), b"").unwrap();
        dir.clear().unwrap();
        assert!(dir.list().unwrap().is_empty());
        assert!(!tmp.path().join(".gen-y.tmp").exists());
        assert!(archive.is_dir() && second.is_dir());
    }

    // --- failpoints: the test binary re-executes itself as a crashing child.

    const CHILD_DIR_ENV: &str = "CHIWAWA_FAILPOINT_TEST_DIR";

    /// Child side: does nothing in a normal test run. When re-executed with
    /// `CHIWAWA_FAILPOINT_TEST_DIR` set, commits one generation into that
    /// directory with the failpoint active, which must abort the process.
    #[test]
    fn failpoint_child() {
        let Some(path) = std::env::var_os(CHILD_DIR_ENV) else {
            return;
        };
        let dir = CheckpointDir::open(Path::new(&path), 3).unwrap();
        let g = dir.next_generation().unwrap();
        let _ = dir.commit(g, write_checkpoint(g));
        eprintln!("failpoint child: commit returned without aborting");
        std::process::exit(99);
    }

    #[cfg(not(target_os = "wasi"))]
    #[test]
    fn crash_at_every_failpoint_keeps_previous_generation() {
        // Test name of `failpoint_child` without the crate name.
        let module = module_path!();
        let module = module.split_once("::").map_or(module, |(_, rest)| rest);
        let child_test = format!("{module}::failpoint_child");
        let exe = std::env::current_exe().unwrap();
        // (The page-pack failpoints are reached only by incremental generations: tests/crash.rs
        // crashes the binary at each of them.)
        for &fp in FAILPOINTS.iter().filter(|f| !f.starts_with("pages-") && **f != "mid-page-prune") {
            let tmp = tempdir();
            let dir = CheckpointDir::open(tmp.path(), 3).unwrap();
            for _ in 0..3 {
                commit(&dir);
            }
            let out = std::process::Command::new(&exe)
                .args([child_test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
                .env(FAILPOINT_ENV, fp)
                .env(CHILD_DIR_ENV, tmp.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{fp}: child did not crash: {stderr}");
            assert!(stderr.contains(&format!("failpoint '{fp}' reached")), "{fp}: {stderr}");
            // The previous generation is intact and valid, whatever happened.
            let prev = tmp.path().join(generation_file_name(3));
            read_checkpoint(&fs::read(&prev).unwrap())
                .unwrap_or_else(|e| panic!("{fp}: previous generation damaged: {e}"));
            let renamed = matches!(fp, "after-rename" | "after-dir-fsync" | "mid-prune");
            let (best, rejected) = dir.latest_valid(accept_all).unwrap();
            assert!(rejected.is_empty(), "{fp}: {rejected:?}");
            assert_eq!(best.unwrap().0.generation, if renamed { 4 } else { 3 }, "{fp}");
            let expect: &[u64] = match fp {
                "after-rename" | "after-dir-fsync" => &[4, 3, 2, 1],
                "mid-prune" => &[4, 3, 2],
                _ => &[3, 2, 1],
            };
            assert_eq!(gens(&dir), expect, "{fp}");
            let temps = || {
                fs::read_dir(tmp.path())
                    .unwrap()
                    .filter(|e| e.as_ref().unwrap().file_name().to_str().is_some_and(is_temp_name))
                    .count()
            };
            let expect_temp = matches!(fp, "mid-write" | "after-write" | "after-fsync");
            assert_eq!(temps(), usize::from(expect_temp), "{fp}");
            // Recovery: the next commit proceeds normally and cleans up.
            let g = commit(&dir);
            assert_eq!(g, if renamed { 5 } else { 4 }, "{fp}");
            assert_eq!(temps(), 0, "{fp}");
            assert_eq!(gens(&dir).len(), 3, "{fp}");
        }
    }
}
